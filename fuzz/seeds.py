#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from hand-written NNTP
traffic and the vectors in protocol-spec/vectors/. Run from anywhere:
`python3 fuzz/seeds.py`. Existing seed files are overwritten, others kept."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VECTORS = os.path.join(ROOT, "protocol-spec", "vectors")

KEY = open(os.path.join(VECTORS, "signing", "key.public")).read().strip()


def crlf(text):
    """LF line endings made CRLF (the vectors are stored with LF)."""
    return re.sub(rb"\r?\n", b"\r\n", text)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def vector_articles():
    out = {}
    for sub in ("articles", "signing"):
        d = os.path.join(VECTORS, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".txt") or name.endswith(".article"):
                with open(os.path.join(d, name), "rb") as f:
                    out[sub + "-" + name.rsplit(".", 1)[0]] = crlf(f.read())
    return out


ARTICLES = vector_articles()
SIGNED = ARTICLES["signing-minimal"]

# ---------------------------------------------------------------- article
for name, raw in ARTICLES.items():
    write("article", name, raw)
write("article", "lf-only", SIGNED.replace(b"\r\n", b"\n"))
write("article", "no-body", b"Subject: x\r\nFrom: a@b\r\n")
write("article", "control-cancel",
      b"Path: a!b\r\nFrom: mod@example.org\r\nNewsgroups: misc.test\r\n"
      b"Subject: cmsg cancel <1@example.org>\r\nControl: cancel <1@example.org>\r\n"
      b"Date: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <c1@example.org>\r\n\r\n"
      b"cancelled\r\n")
write("article", "audience",
      b"Path: a!b\r\nFrom: ann@example.org\r\nNewsgroups: blog.ann.friends\r\n"
      b"Subject: for friends\r\nTidings-Audience: " + KEY.encode() + b" friends\r\n"
      b"Date: Sun, 22 Nov 2026 04:20:54 +0000\r\nMessage-ID: <f1@example.org>\r\n\r\n"
      b"only for friends\r\n")
write("article", "folded-signature",
      SIGNED.replace(b"Tidings-Signature: ed25519 ", b"Tidings-Signature: ed25519\r\n\t"))

# ---------------------------------------------------------------- signature
sig = re.search(rb"Tidings-Signature: (.*)\r\n", SIGNED).group(1).decode()
write("signature", "valid", sig)
write("signature", "upper-hex", sig.upper().replace("ED25519", "ed25519"))
write("signature", "spaced", "  " + sig.replace(" ", "\t  ") + " \r\n")
write("signature", "trailing", sig + " extra")
write("signature", "short-sig", sig[:-2])
write("signature", "rsa", "rsa " + KEY + " " + "00" * 64)
write("signature", "zero-key", "ed25519 " + "00" * 32 + " " + "00" * 64)

# ---------------------------------------------------------------- control
for i, value in enumerate([
    "cancel <a@b>",
    "newgroup alt.test",
    "newgroup chan.b hidden",
    "modgroup chan.b visible",
    "modgroup chan.b HIDDEN",
    "rmgroup alt.test",
    "passport " + KEY,
    "REVOKE " + KEY,
    "rotate " + KEY.upper(),
    "move <a.1@example.org> misc.test",
    "local-remove <x@y>",
    "local-rmgroup misc.test",
    "local-approve <held@example.org>",
    "  cancel\t<a@b>  ",
    "cancel <a@b> extra",
    "newgroup bad..name",
    "grant friends " + KEY + " cache never",
    "GRANT f.2 " + KEY.upper() + " read 1800000000",
    "ungrant friends " + KEY,
    "introduce " + KEY + " node.d never passports boards=blog.*,!blog.x",
    "withdraw " + KEY,
    "grant fr/iends " + KEY + " read never",
]):
    write("control", "%02d" % i, value)

# ---------------------------------------------------------------- command
COMMANDS = [
    "CAPABILITIES", "MODE READER", "mode stream", "QUIT", "HELP", "DATE",
    "LIST", "LIST ACTIVE comp.*,!comp.lang.*", "LIST NEWSGROUPS [a-c]*",
    "LIST OVERVIEW.FMT", "LIST HEADERS MSGID", "GROUP misc.test",
    "LISTGROUP misc.test 3-", "LISTGROUP", "ARTICLE", "ARTICLE 42",
    "ARTICLE <a@b>", "HEAD 1", "BODY <x.y@z>", "STAT 0000000000000001",
    "NEXT", "LAST", "NEWGROUPS 20261122 000000 GMT", "NEWGROUPS 261122 120000",
    "NEWNEWS misc.* 20261122 000000 GMT", "OVER 1-10", "XOVER 5-", "OVER <a@b>",
    "HDR Subject 1-3", "HDR :bytes <x@y>", "POST", "IHAVE <i@example.org>",
    "CHECK <c@example.org>", "TAKETHIS <t@example.org>", "TAKETHIS",
    "TAKETHIS nope extra", "XIHAVE", "XRECONCILE test.sync", "XRECONCILE",
    "XPEER n1.test", "XPEER n1 " + "ab" * 64, "STARTTLS", "XSYNC peer1",
    "GrOuP\tmisc.test", "", "FROB", "ARTICLE 10000000000000000",
    "LIST ACTIVE [", "GROUP a\x01b",
]
for i, line in enumerate(COMMANDS):
    write("command", "%02d" % i, line)

# ---------------------------------------------------------------- reconcile
entries = []
for name in sorted(os.listdir(os.path.join(VECTORS, "sync"))):
    if name.startswith("exchange-"):
        for line in open(os.path.join(VECTORS, "sync", name)):
            m = re.match(r"^[CS]: ([FSLNH] .*)$", line.rstrip("\n"))
            if m and m.group(1) not in entries:
                entries.append(m.group(1))
kinds = {}
for e in entries:
    kinds.setdefault(e[0], []).append(e)
picked = []
for k, es in sorted(kinds.items()):
    picked += es[:3] + [max(es, key=len)]
picked += ["F * AAAAAAAA", "L " + "f" * 64, "H 0 <a@b>\t<c@d>", "F  3f  XntLP7E0",
           "N 0", "S * AAAAAAAA"]
for i, e in enumerate(dict.fromkeys(picked)):
    write("reconcile", "%02d" % i, e)

# ----------------------------------------------------------------- file_ref
H = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
for i, e in enumerate([
    H + " 11 image/png",
    H + " 2097152 Image/PNG name=cat%20pic%C3%A9.png width=640 height=480 thumbnail=" + H,
    H + " 0 video/webm later=kept",
    H + " 11 image/png width=1 width=2",
    "abc 11 png name=%zz",
    # XFILE's 294 line is fed to the same target (files.md §6).
    H + " 4 7 11 image/png",
    H + " 5 7 11 image/png",
]):
    write("file_ref", "%02d" % i, e)

# ---------------------------------------------------------------- codec
# Two bytes of settings, then the stream: the first seeds the piece sizes,
# the second's low 6 bits bound them and its high bit picks small limits
# (line 32, article 128, list 64) instead of 512 / 4096 / 1024.
REAL, SMALL = 0x07, 0x87
article = (b"From: a@example.org\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\n"
           b"body\r\n..leading dot\r\n\r\n")
streams = {
    "reader": (REAL, b"CAPABILITIES\r\nMODE READER\r\nGROUP misc.test\r\nARTICLE 1\r\n"
                     b"OVER 1-5\r\nQUIT\r\n"),
    "lf-only": (REAL, b"DATE\nHELP\nLIST\n"),
    "post": (REAL, b"POST\r\n" + article + b".\r\nQUIT\r\n"),
    "post-small": (SMALL, b"POST\r\n" + article + b".\r\nQUIT\r\n"),
    "signed-ihave": (REAL, b"IHAVE <x@y>\r\n" + SIGNED.replace(b"\r\n.", b"\r\n..")
                     + b".\r\nQUIT\r\n"),
    "smuggle-lf-dot": (REAL, b"POST\r\nSubject: x\r\n\r\nbody\r\n.\nQUIT\r\n.\n"
                             b"POST\r\n.\r\nDATE\r\n"),
    "smuggle-cr-dot": (REAL, b"POST\r\nSubject: x\r\n\r\nbody\n.\r\r\nHELP\r\n.\r\nDATE\r\n"),
    "smuggle-dot-space": (SMALL, b"TAKETHIS <a@b>\r\nA: b\r\n\r\n. \r\nGROUP x\r\n.\r\nDATE\r\n"),
    "smuggle-split": (0x01, b"POST\r\nSubject: x\r\n\r\nbody\r\n\r\n.\r\nQUIT\r\n"),
    "streaming": (REAL, b"MODE STREAM\r\nCHECK <a@b>\r\nTAKETHIS <a@b>\r\n" + article
                  + b".\r\nTAKETHIS bad\r\n" + article + b".\r\nCHECK <c@d>\r\n"),
    "xihave": (SMALL, b"XIHAVE\r\n<a@b>\r\n<c@d>\r\n.\r\nXRECONCILE test.sync\r\n"
                      b"F * XntLP7E0\r\n.\r\nQUIT\r\n"),
    "overlong-line": (SMALL, b"GROUP " + b"x" * 40 + b"\r\nDATE\r\n" + b"y" * 31 + b"\r\n"),
    "overlong-block": (SMALL, b"POST\r\n" + b"0123456789\r\n" * 14 + b".\r\nDATE\r\n"),
    "overlong-block-line": (SMALL, b"POST\r\n" + b"z" * 140 + b".\r\nmore\r\n.\r\nDATE\r\n"),
    "limit-exact": (SMALL, b"x" * 30 + b"\r\n" + b"POST\r\n" + b"a" * 124 + b"\r\n.\r\nHELP\r\n"),
    "eof-partial": (REAL, b"POST\r\nSubject: half\r\n"),
    "eof-dot": (REAL, b"POST\r\nSubject: x\r\n\r\nb\r\n.\r"),
}
for name, (shape, stream) in streams.items():
    write("codec", name, bytes([0x5a, shape]) + stream)
