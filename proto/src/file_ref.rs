//! The `Tidings-File` header: a file an article carries by reference
//! (protocol-spec/files.md §4), signed with the rest of the article. The
//! bytes travel apart, named by their SHA-256.
//!
//! ```text
//! Tidings-File: <sha256, 64 hex> <size> <media type> *( SP key "=" value )
//! ```
//!
//! Keys: `name` (the uploader's file name, percent-encoded UTF-8),
//! `width` and `height` (pixels), `thumbnail` (another file's SHA-256).
//! Unknown keys are kept out of the parse (a later version may add some);
//! a key given twice is an error.

/// The header's name.
pub const HEADER: &str = "Tidings-File";

/// One file an article references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub hash: [u8; 32],
    pub size: u64,
    /// `type/subtype`, lower-cased.
    pub media_type: String,
    pub name: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumbnail: Option<[u8; 32]>,
}

/// Why a `Tidings-File` value does not parse; the text goes to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{HEADER}: {0}")]
pub struct FileRefError(pub String);

fn hash(text: &str, what: &str) -> Result<[u8; 32], FileRefError> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FileRefError(format!(
            "{what} is a SHA-256 in 64 hex digits, not {text:?}"
        )));
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).unwrap_or("00");
        out[i] = u8::from_str_radix(digits, 16)
            .map_err(|_| FileRefError(format!("{what} is not hex: {text:?}")))?;
    }
    Ok(out)
}

fn media_type(text: &str) -> Result<String, FileRefError> {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match text.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(text.to_ascii_lowercase()),
        _ => Err(FileRefError(format!(
            "{text:?} is not a media type (type/subtype)"
        ))),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FileRef {
    /// Parses one header value (unfolded).
    pub fn parse(value: &[u8]) -> Result<FileRef, FileRefError> {
        let text = std::str::from_utf8(value)
            .map_err(|_| FileRefError("the value is not UTF-8".into()))?;
        let mut words = text.split_ascii_whitespace();
        let mut next = |what: &str| {
            words.next().ok_or_else(|| {
                FileRefError(format!("no {what}: want <sha256> <size> <media type>"))
            })
        };
        let hash_text = next("hash")?;
        let size_text = next("size")?;
        let type_text = next("media type")?;
        let mut file = FileRef {
            hash: hash(hash_text, "the hash")?,
            size: size_text.parse().map_err(|_| {
                FileRefError(format!("the size is a number of bytes, not {size_text:?}"))
            })?,
            media_type: media_type(type_text)?,
            name: None,
            width: None,
            height: None,
            thumbnail: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(FileRefError(format!("{word:?} is not key=value")));
            };
            if seen.contains(&key) {
                return Err(FileRefError(format!("{key} given twice")));
            }
            seen.push(key);
            let pixels = |value: &str| {
                value.parse::<u32>().map_err(|_| {
                    FileRefError(format!("{key} is a number of pixels, not {value:?}"))
                })
            };
            match key {
                "name" => {
                    file.name = Some(percent_decode(value).ok_or_else(|| {
                        FileRefError(format!("name is percent-encoded UTF-8, not {value:?}"))
                    })?)
                }
                "width" => file.width = Some(pixels(value)?),
                "height" => file.height = Some(pixels(value)?),
                "thumbnail" => file.thumbnail = Some(hash(value, "thumbnail")?),
                _ => {}
            }
        }
        Ok(file)
    }

    /// The header value, as [`FileRef::parse`] reads it.
    pub fn to_value(&self) -> String {
        let mut out = format!("{} {} {}", hex_of(&self.hash), self.size, self.media_type);
        if let Some(name) = &self.name {
            out.push_str(&format!(" name={}", percent_encode(name)));
        }
        if let Some(width) = self.width {
            out.push_str(&format!(" width={width}"));
        }
        if let Some(height) = self.height {
            out.push_str(&format!(" height={height}"));
        }
        if let Some(thumbnail) = &self.thumbnail {
            out.push_str(&format!(" thumbnail={}", hex_of(thumbnail)));
        }
        out
    }
}

fn hex_of(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA-256 in 64 hex digits, either case.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    hash(text, "the file").ok()
}

/// What XFILE's `294` status line says of the bytes that follow it
/// (protocol-spec/files.md §6): `<sha256> <offset> <count> <size> <type>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub hash: [u8; 32],
    /// Where in the file the bytes start.
    pub offset: u64,
    /// How many follow the line.
    pub count: u64,
    /// The whole file's size.
    pub size: u64,
    pub media_type: String,
}

impl Piece {
    /// Parses the text of a `294` line (after the code). A piece that
    /// would end past the file's end is an error.
    pub fn parse(text: &[u8]) -> Result<Piece, FileRefError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| FileRefError("the XFILE reply is not UTF-8".into()))?;
        let mut words = text.split_ascii_whitespace();
        let mut next = |what: &str| {
            words
                .next()
                .ok_or_else(|| FileRefError(format!("the XFILE reply lacks its {what}")))
        };
        let hash = hash(next("hash")?, "the file")?;
        let number = |text: &str, what: &str| {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FileRefError(format!(
                    "the {what} is not a number: {text:?}"
                )));
            }
            text.parse::<u64>()
                .map_err(|_| FileRefError(format!("the {what} is too large: {text:?}")))
        };
        let offset = number(next("offset")?, "offset")?;
        let count = number(next("count")?, "count")?;
        let size = number(next("size")?, "size")?;
        let media_type = next("media type")?.to_ascii_lowercase();
        if offset.checked_add(count).is_none_or(|end| end > size) {
            return Err(FileRefError(format!(
                "{count} bytes from {offset} run past the end of a {size}-byte file"
            )));
        }
        Ok(Piece {
            hash,
            offset,
            count,
            size,
            media_type,
        })
    }

    /// The text of a `294` line, as [`Piece::parse`] reads it.
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            hex_of(&self.hash),
            self.offset,
            self.count,
            self.size,
            self.media_type
        )
    }
}

/// The files an article references, in order.
pub fn of(article: &crate::article::Article) -> Result<Vec<FileRef>, FileRefError> {
    article
        .headers_unfolded(HEADER)
        .iter()
        .map(|v| FileRef::parse(v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfile_pieces_parse_and_must_lie_within_their_file() {
        let hex = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        let piece = Piece::parse(format!("{hex} 4 7 11 image/PNG").as_bytes()).expect("parses");
        assert_eq!(
            (
                piece.offset,
                piece.count,
                piece.size,
                piece.media_type.as_str()
            ),
            (4, 7, 11, "image/png")
        );
        assert_eq!(piece.to_text(), format!("{hex} 4 7 11 image/png"));
        for bad in [
            format!("{hex} 5 7 11 image/png"),
            format!("{hex} 0 1 x image/png"),
            format!("{hex} 0 1 2"),
            format!("{hex} -1 1 2 image/png"),
            format!("{hex} 18446744073709551615 1 2 image/png"),
            "abc 0 0 0 image/png".to_string(),
        ] {
            assert!(Piece::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    const HASH: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    #[test]
    fn a_reference_round_trips_with_every_key() {
        let value = format!(
            "{HASH} 11 Image/PNG name=cat%20pic%C3%A9.png width=640 height=480 thumbnail={HASH} later=ignored"
        );
        let file = FileRef::parse(value.as_bytes()).expect("parses");
        assert_eq!(file.size, 11);
        assert_eq!(file.media_type, "image/png");
        assert_eq!(file.name.as_deref(), Some("cat picé.png"));
        assert_eq!((file.width, file.height), (Some(640), Some(480)));
        assert_eq!(file.thumbnail, Some(file.hash));
        assert_eq!(FileRef::parse(file.to_value().as_bytes()), Ok(file));
        let bare = FileRef::parse(format!("{HASH} 0 video/webm").as_bytes()).expect("bare");
        assert_eq!(bare.to_value(), format!("{HASH} 0 video/webm"));
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        for (value, says) in [
            ("".to_string(), "no hash"),
            (HASH.to_string(), "no size"),
            (format!("{HASH} 11"), "no media type"),
            ("abc 11 image/png".to_string(), "64 hex"),
            (format!("{HASH} -1 image/png"), "number of bytes"),
            (format!("{HASH} 11 png"), "media type"),
            (format!("{HASH} 11 image/png width=wide"), "pixels"),
            (format!("{HASH} 11 image/png width=1 width=2"), "twice"),
            (format!("{HASH} 11 image/png name=%zz"), "percent-encoded"),
            (format!("{HASH} 11 image/png loose"), "key=value"),
        ] {
            let err = FileRef::parse(value.as_bytes()).expect_err(&value);
            assert!(err.to_string().contains(says), "{value}: {err}");
        }
    }
}
