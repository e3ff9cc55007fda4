//! A post made from form fields (a web form, a PHP back end, JSON) as
//! the article an NNTP reader would have POSTed: pure, so every field rule
//! is a unit test. The node then takes it exactly as it takes a POST
//! (http.md §4.4): it adds Message-ID, Date, Path and its signature.

use std::collections::BTreeMap;

/// A new post as a front end describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPost {
    pub board: String,
    /// Files uploaded with the post, stored already (files.md §4).
    pub files: Vec<crate::proto::file_ref::FileRef>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// The opening post's number on `board` (4chan's `resto`), for a reply.
    pub thread: Option<u64>,
    /// The Message-ID of the post replied to, for a reply.
    pub in_reply_to: Option<String>,
    /// `<owner key hex> <name>`: a post protected for that audience
    /// (access.md §7).
    pub audience: Option<String>,
}

/// Fields a form may carry, under their native and 4chan names.
const ALIASES: &[(&str, &str)] = &[
    ("board", "board"),
    ("name", "name"),
    ("email", "email"),
    ("subject", "subject"),
    ("sub", "subject"),
    ("body", "body"),
    ("com", "body"),
    ("thread", "thread"),
    ("resto", "thread"),
    ("in_reply_to", "in_reply_to"),
    ("audience", "audience"),
];

/// Fields a 4chan post form sends that mean nothing here: the form mode,
/// a deletion password (posts are removed by signed cancels) and an empty
/// file input.
const IGNORED: &[&str] = &["mode", "pwd", "upfile"];

impl NewPost {
    /// The post a form's text fields describe. `board` comes from the
    /// path when the form is posted to a board's URL. Unknown fields are
    /// refused rather than dropped, so a misspelt field is noticed.
    pub fn from_fields(
        fields: &BTreeMap<String, String>,
        board: Option<&str>,
    ) -> Result<NewPost, String> {
        let mut post = NewPost::default();
        let mut seen: Vec<&str> = Vec::new();
        for (field, value) in fields {
            if IGNORED.contains(&field.as_str()) {
                continue;
            }
            let Some(&(_, canonical)) = ALIASES.iter().find(|(alias, _)| alias == field) else {
                return Err(format!("unknown field {field:?}"));
            };
            if seen.contains(&canonical) {
                return Err(format!("field {canonical} given twice"));
            }
            seen.push(canonical);
            let text = value.trim().to_string();
            let optional = (!text.is_empty()).then(|| text.clone());
            match canonical {
                "board" => post.board = text,
                "name" => post.name = optional,
                "email" => post.email = optional,
                "subject" => post.subject = optional,
                "body" => post.body = value.clone(),
                "thread" => {
                    post.thread = match text.as_str() {
                        "" | "0" => None,
                        n => Some(n.parse().map_err(|_| {
                            format!("thread (resto) is an opening post's number, not {n:?}")
                        })?),
                    }
                }
                "audience" => post.audience = optional,
                _ => post.in_reply_to = optional,
            }
        }
        if let Some(board) = board {
            if !post.board.is_empty() && post.board != board {
                return Err(format!(
                    "board {:?} differs from the board in the URL, {board:?}",
                    post.board
                ));
            }
            post.board = board.to_string();
        }
        if post.board.is_empty() {
            return Err("board is missing".into());
        }
        if post.thread.is_some() && post.in_reply_to.is_some() {
            return Err("give thread (resto) or in_reply_to, not both".into());
        }
        Ok(post)
    }
}

/// What a reply needs from the post it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub message_id: String,
    /// The parent's own References, space-separated (empty for an
    /// opening post).
    pub references: String,
    pub subject: String,
}

/// Refuses line breaks and other control characters in a header value: a
/// name with a CRLF in it would add header fields of its own.
fn header_text(field: &str, value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{field} may not contain line breaks or control characters"
        ));
    }
    Ok(())
}

/// `"name" <address>` with the display name quoted (RFC 5322 §3.2.4).
fn from_field(name: &str, email: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("\"{quoted}\" <{email}>")
}

/// The address a post without a usable email gets: `.invalid` names no
/// real domain (RFC 2606 §2), and From must hold an address
/// (RFC 5536 §3.1.2).
pub const NO_ADDRESS: &str = "anonymous@poster.invalid";

/// Whether `email` is a bare addr-spec we can put in angle brackets.
fn usable_address(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\')
        })
}

/// The article for `post`, a reply to `parent` when it has one, without
/// the fields the node adds (Message-ID, Date, Path, signature).
pub fn article(post: &NewPost, parent: Option<&Parent>) -> Result<Vec<u8>, String> {
    let name = post.name.as_deref().unwrap_or("Anonymous");
    header_text("name", name)?;
    let email = match post.email.as_deref() {
        None => NO_ADDRESS,
        // "sage" and the like are options on a chan, not addresses.
        Some(email) if !usable_address(email) => NO_ADDRESS,
        Some(email) => email,
    };
    let subject = match (&post.subject, parent) {
        (Some(subject), _) => subject.clone(),
        (None, Some(parent)) => {
            let base = parent.subject.trim();
            if base.len() >= 3 && base[..3].eq_ignore_ascii_case("re:") {
                base.to_string()
            } else {
                format!("Re: {base}")
            }
        }
        (None, None) => "(no subject)".to_string(),
    };
    header_text("subject", &subject)?;
    header_text("board", &post.board)?;
    if post.body.trim().is_empty() {
        return Err("the post has no text (body, or com)".into());
    }
    let mut out = String::with_capacity(post.body.len() + 256);
    out.push_str(&format!("From: {}\r\n", from_field(name, email)));
    out.push_str(&format!("Newsgroups: {}\r\n", post.board));
    out.push_str(&format!("Subject: {subject}\r\n"));
    for file in &post.files {
        out.push_str(&format!(
            "{}: {}\r\n",
            crate::proto::file_ref::HEADER,
            file.to_value()
        ));
    }
    if let Some(audience) = &post.audience {
        crate::proto::audience::Audience::parse_header(audience.as_bytes())?;
        out.push_str(&format!(
            "{}: {audience}\r\n",
            crate::proto::audience::HEADER
        ));
    }
    if let Some(parent) = parent {
        header_text("in_reply_to", &parent.message_id)?;
        let references = match parent.references.trim() {
            "" => parent.message_id.clone(),
            earlier => format!("{earlier} {}", parent.message_id),
        };
        out.push_str(&format!("References: {references}\r\n"));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("Content-Transfer-Encoding: 8bit\r\n");
    out.push_str("\r\n");
    out.push_str(&crlf(post.body.trim_end()));
    out.push_str("\r\n");
    Ok(out.into_bytes())
}

/// Text with every line ending made CRLF (forms send CRLF, JSON and
/// scripts often bare LF).
pub fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn chan_form_fields_are_read_under_their_4chan_names() {
        let post = NewPost::from_fields(
            &fields(&[
                ("name", "anon"),
                ("sub", "hello"),
                ("com", "text"),
                ("resto", "12"),
                ("mode", "regist"),
                ("pwd", "x"),
                ("upfile", ""),
            ]),
            Some("b.test"),
        )
        .expect("post");
        assert_eq!(post.board, "b.test");
        assert_eq!(post.subject.as_deref(), Some("hello"));
        assert_eq!(post.body, "text");
        assert_eq!(post.thread, Some(12));
        let op =
            NewPost::from_fields(&fields(&[("com", "x"), ("resto", "0")]), Some("b")).expect("op");
        assert_eq!(op.thread, None, "resto 0 opens a thread, as on 4chan");
    }

    #[test]
    fn bad_forms_are_refused_with_the_field_named() {
        let refused = |pairs: &[(&str, &str)], board: Option<&str>| {
            NewPost::from_fields(&fields(pairs), board).expect_err("refused")
        };
        assert!(refused(&[("bdy", "x")], Some("b")).contains("\"bdy\""));
        assert!(refused(&[("body", "x"), ("com", "y")], Some("b")).contains("twice"));
        assert!(refused(&[("body", "x")], None).contains("board"));
        assert!(refused(&[("board", "a"), ("body", "x")], Some("b")).contains("differs"));
        assert!(refused(&[("resto", "twelve"), ("body", "x")], Some("b")).contains("number"));
        assert!(refused(
            &[("resto", "1"), ("in_reply_to", "<a@b>"), ("body", "x")],
            Some("b")
        )
        .contains("not both"));
    }

    #[test]
    fn a_post_may_name_its_audience() {
        let owner = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
        let post = NewPost::from_fields(
            &fields(&[("body", "x"), ("audience", &format!("{owner} friends"))]),
            Some("blog.ann.friends"),
        )
        .expect("post");
        let text = String::from_utf8(article(&post, None).expect("article")).expect("utf8");
        assert!(
            text.contains(&format!("\r\nTidings-Audience: {owner} friends\r\n")),
            "{text}"
        );
        let bad = NewPost {
            audience: Some("friends".into()),
            ..post
        };
        assert!(article(&bad, None)
            .expect_err("refused")
            .contains("Tidings-Audience"));
    }

    #[test]
    fn a_thread_is_an_article_an_nntp_reader_could_have_posted() {
        let post = NewPost {
            board: "b.test".into(),
            name: Some("Jo \"JJ\"".into()),
            subject: Some("Größe".into()),
            body: "line one\nline two\n\n".into(),
            ..NewPost::default()
        };
        let text = String::from_utf8(article(&post, None).expect("article")).expect("utf8");
        assert_eq!(
            text,
            "From: \"Jo \\\"JJ\\\"\" <anonymous@poster.invalid>\r\nNewsgroups: b.test\r\nSubject: Größe\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nline one\r\nline two\r\n"
        );
    }

    #[test]
    fn a_reply_references_its_parent_and_takes_its_subject() {
        let post = NewPost {
            board: "b".into(),
            email: Some("jo@example.org".into()),
            body: "yes".into(),
            ..NewPost::default()
        };
        let parent = Parent {
            message_id: "<2@x>".into(),
            references: "<1@x>".into(),
            subject: "Re: topic".into(),
        };
        let text = String::from_utf8(article(&post, Some(&parent)).expect("reply")).expect("utf8");
        assert!(
            text.contains("From: \"Anonymous\" <jo@example.org>\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Re: topic\r\n"), "{text}");
        assert!(text.contains("References: <1@x> <2@x>\r\n"), "{text}");
        let op = Parent {
            references: String::new(),
            subject: "topic".into(),
            ..parent
        };
        let text = String::from_utf8(article(&post, Some(&op)).expect("reply")).expect("utf8");
        assert!(
            text.contains("Subject: Re: topic\r\nReferences: <2@x>\r\n"),
            "{text}"
        );
    }

    #[test]
    fn header_injection_and_empty_posts_are_refused() {
        let post = |name: &str, body: &str| NewPost {
            board: "b".into(),
            name: Some(name.into()),
            body: body.into(),
            ..NewPost::default()
        };
        assert!(article(&post("x\r\nControl: cancel <a@b>", "hi"), None)
            .expect_err("refused")
            .contains("name"));
        assert!(article(&post("x", " \n "), None)
            .expect_err("empty")
            .contains("no text"));
        let sage = NewPost {
            email: Some("sage".into()),
            ..post("x", "hi")
        };
        let text = String::from_utf8(article(&sage, None).expect("sage")).expect("utf8");
        assert!(text.contains(NO_ADDRESS), "{text}");
    }

    #[test]
    fn files_are_referenced_in_signed_headers() {
        let file = crate::proto::file_ref::FileRef {
            hash: [0xab; 32],
            size: 3,
            media_type: "image/png".into(),
            name: Some("a b.png".into()),
            width: None,
            height: None,
            thumbnail: None,
        };
        let post = NewPost {
            board: "b".into(),
            body: "look".into(),
            files: vec![file.clone()],
            ..NewPost::default()
        };
        let text = String::from_utf8(article(&post, None).expect("article")).expect("utf8");
        assert!(
            text.contains(&format!("\r\nTidings-File: {}\r\n", file.to_value())),
            "{text}"
        );
    }

    #[test]
    fn line_endings_become_crlf() {
        assert_eq!(crlf("a\nb\r\nc"), "a\r\nb\r\nc");
        assert_eq!(crlf(""), "");
    }
}
