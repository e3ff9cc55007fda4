"""Drives a tidings node with Python's standard nntplib (Python 3.11).

usage: nntplib_client.py HOST PORT post GROUP
         posts an article, reads it back every way, prints "ID NUMBER"
       nntplib_client.py HOST PORT check GROUP ID NUMBER
         checks the article still has that number (after a restart)
       nntplib_client.py HOST PORT read GROUP ID
         selects GROUP, then prints the article's number there, its
         Subject and its body (as UTF-8), a line each
Exits non-zero with a message on any mismatch.
"""
import datetime
import io
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

BODY = [b"Hello from nntplib.", b".a line that starts with a dot", b"", b"last line"]


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def post(server, group):
    article = [
        b"From: Python <python@tests.invalid>",
        b"Newsgroups: " + group.encode(),
        b"Subject: nntplib round trip",
        b"",
    ] + BODY
    reply = server.post(article)
    if not reply.startswith("240"):
        fail("post: " + reply)
    _, count, first, last, name = server.group(group)
    if name != group or count < 1:
        fail(f"group: {count} {first} {last} {name}")
    _, overviews = server.over((last, last))
    if len(overviews) != 1:
        fail(f"over: {overviews}")
    number, fields = overviews[0]
    if fields["subject"] != "nntplib round trip":
        fail(f"over subject: {fields}")
    message_id = fields["message-id"]
    _, info = server.article(message_id)
    lines = info.lines
    body = lines[lines.index(b"") + 1:]
    if body != BODY:
        fail(f"article body differs: {body!r}")
    _, info = server.article(number)
    if info.message_id != message_id:
        fail(f"article by number: {info.message_id} != {message_id}")
    _, head = server.head(message_id)
    if b"Subject: nntplib round trip" not in head.lines:
        fail(f"head: {head.lines}")
    _, body_info = server.body(message_id)
    if body_info.lines != BODY:
        fail(f"body: {body_info.lines}")
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    _, ids = server.newnews(group, since)
    if message_id not in ids:
        fail(f"newnews: {message_id} not in {ids}")
    print(message_id, number)


def check(server, group, message_id, number):
    server.group(group)
    _, info = server.article(int(number))
    if info.message_id != message_id:
        fail(f"after restart article {number} is {info.message_id}, not {message_id}")
    body = info.lines[info.lines.index(b"") + 1:]
    if body != BODY:
        fail(f"after restart body differs: {body!r}")
    print("ok")


def read(server, group, message_id):
    server.group(group)
    _, info = server.article(message_id)
    lines = info.lines
    head = lines[: lines.index(b"")]
    subject = next(
        (l[len(b"Subject: "):] for l in head if l.lower().startswith(b"subject: ")), b""
    )
    _, overviews = server.over((0, 2**31))
    numbers = [n for n, fields in overviews if fields["message-id"] == message_id]
    if len(numbers) != 1:
        fail(f"read: {message_id} is not once in the overview of {group}")
    print(numbers[0])
    print(subject.decode("utf-8"))
    for line in lines[lines.index(b"") + 1:]:
        print(line.decode("utf-8"))


def main():
    host, port, mode, group = sys.argv[1:5]
    server = nntplib.NNTP(host, int(port), readermode=True, timeout=20)
    try:
        caps = server.getcapabilities()
        if "READER" not in caps or "VERSION" not in caps:
            fail(f"capabilities: {caps}")
        if mode == "post":
            post(server, group)
        elif mode == "read":
            read(server, group, sys.argv[5])
        else:
            check(server, group, sys.argv[5], sys.argv[6])
    finally:
        server.quit()


main()
