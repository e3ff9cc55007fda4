//! Content coding of the rendered pages (http.md §2): whether a request
//! accepts gzip, and the gzip coding of a page. A 1000-thread catalog is
//! ~300 KB of JSON and about a tenth of that coded; the coding is made
//! once per rendering and shared, as the rendering is.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Pages shorter than this are sent as they are: they fit in a few
/// packets either way, and coding them would cost more than it saves.
pub const GZIP_MIN: usize = 1024;

/// Level 6 (zlib's default): a 300 KB catalog codes in a few
/// milliseconds, once per change of the store, and comes out a few per
/// cent smaller than at level 1.
const LEVEL: u32 = 6;

/// Whether an `Accept-Encoding` field (all its lines, RFC 9110 §12.5.3)
/// accepts gzip: `gzip` or `x-gzip` with a non-zero weight, or else `*`
/// with one. A field that names gzip with `q=0` refuses it whatever `*`
/// says.
pub fn accepts_gzip<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let mut any = None;
    for line in lines {
        for item in line.split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let coding = trim(parts.next().unwrap_or_default());
            let weighted = parts.all(|p| !refuses(p));
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                return weighted;
            }
            if coding == b"*" {
                any = Some(weighted);
            }
        }
    }
    any.unwrap_or(false)
}

/// A parameter `q=0` (or `q=0.0`, `q=0.000`): the coding is refused.
fn refuses(param: &[u8]) -> bool {
    let param = trim(param);
    let Some(weight) = param
        .strip_prefix(b"q=")
        .or_else(|| param.strip_prefix(b"Q="))
    else {
        return false;
    };
    let weight = trim(weight);
    match weight.split_first() {
        Some((b'0', rest)) => rest.iter().all(|&b| b == b'.' || b == b'0'),
        _ => false,
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `body` gzip-coded (RFC 1952).
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut coder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::new(LEVEL));
    coder.write_all(body)?;
    coder.finish()
}

/// The strong tag of a page's gzip coding: the tag of its JSON with
/// `-gzip` inside the quotes. A tag names one representation (RFC 9110
/// §8.8.3), and the coded bytes are another.
pub fn gzip_tag(tag: &str) -> String {
    match tag.strip_suffix('"') {
        Some(open) => format!("{open}-gzip\""),
        None => format!("{tag}-gzip"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn accepts(field: &str) -> bool {
        accepts_gzip([field.as_bytes()])
    }

    #[test]
    fn what_browsers_and_curl_send_accepts_gzip() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("gzip"));
        assert!(accepts("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(accepts("GZIP"));
        assert!(accepts("x-gzip"));
        assert!(accepts(" br ; q=1 , gzip ; q=0.001 "));
        assert!(accepts("*"));
    }

    #[test]
    fn no_field_identity_or_a_zero_weight_refuses_gzip() {
        assert!(!accepts_gzip(std::iter::empty::<&[u8]>()));
        assert!(!accepts(""));
        assert!(!accepts("identity"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.000"));
        assert!(!accepts("*;q=0"));
        assert!(!accepts("gzip;q=0, *"));
        assert!(!accepts("*, gzip;q=0"));
        assert!(!accepts("gzipped"));
    }

    #[test]
    fn every_line_of_the_field_counts() {
        assert!(accepts_gzip([&b"br"[..], &b"gzip"[..]]));
        assert!(!accepts_gzip([&b"br"[..], &b"deflate"[..]]));
    }

    #[test]
    fn the_coding_decodes_to_the_page() {
        let page: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("{{\"no\":{i},\"sub\":\"thread {i}\"}},").into_bytes())
            .collect();
        let coded = gzip(&page).expect("gzip");
        assert!(
            coded.len() * 4 < page.len(),
            "{} of {}",
            coded.len(),
            page.len()
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&coded[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, page);
    }

    #[test]
    fn the_coded_tag_differs_and_stays_quoted() {
        assert_eq!(gzip_tag("\"0123abcd\""), "\"0123abcd-gzip\"");
    }
}
