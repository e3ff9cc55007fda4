//! Every NNTP response code tidings sends, with its canonical text, in one
//! place. Handlers pick a code and, where the client needs to know what was
//! wrong, a reason; they never spell out a number themselves.

/// A three-digit NNTP response code (RFC 3977 §3.2, RFC 4644 §2, RFC 4642
/// §2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub u16);

macro_rules! codes {
    ($($name:ident = $num:literal, $text:literal;)*) => {
        impl Code {
            $(pub const $name: Code = Code($num);)*

            /// The text sent when a handler gives no reason of its own.
            pub fn canonical_text(self) -> &'static str {
                match self.0 {
                    $($num => $text,)*
                    _ => "",
                }
            }
        }
    };
}

codes! {
    HELP_FOLLOWS = 100, "Help text follows";
    CAPABILITIES_FOLLOW = 101, "Capability list follows";
    DATE = 111, "";
    READY_POSTING = 200, "Posting allowed";
    READY_NO_POSTING = 201, "Posting prohibited";
    STREAMING_OK = 203, "Streaming permitted";
    CLOSING = 205, "Closing connection";
    GROUP_SELECTED = 211, "";
    LIST_FOLLOWS = 215, "Information follows";
    ARTICLE_FOLLOWS = 220, "";
    HEAD_FOLLOWS = 221, "";
    BODY_FOLLOWS = 222, "";
    ARTICLE_EXISTS = 223, "";
    OVERVIEW_FOLLOWS = 224, "Overview information follows";
    HDR_FOLLOWS = 225, "Headers follow";
    NEWNEWS_FOLLOWS = 230, "List of new articles follows";
    NEWGROUPS_FOLLOWS = 231, "List of new newsgroups follows";
    TRANSFER_OK = 235, "Article transferred OK";
    CHECK_SEND = 238, "";
    TAKETHIS_OK = 239, "";
    POST_OK = 240, "Article received OK";
    AUTH_ACCEPTED = 281, "Authentication accepted";
    RECONCILE_FOLLOWS = 290, "Reconciliation entries follow";
    SENDME_FOLLOWS = 291, "Send these articles";
    SYNC_FOLLOWS = 292, "Catch-up progress follows";
    STATE_DIGEST = 293, "State digest";
    FILE_FOLLOWS = 294, "";
    IHAVE_SEND = 335, "Send article; end with <CR-LF>.<CR-LF>";
    POST_SEND = 340, "Send article; end with <CR-LF>.<CR-LF>";
    AUTH_CONTINUE = 381, "";
    TLS_CONTINUE = 382, "Continue with TLS negotiation";
    SERVICE_UNAVAILABLE = 400, "Service temporarily unavailable";
    INTERNAL_FAULT = 403, "Internal fault; the operator has been told";
    NO_SUCH_GROUP = 411, "No such newsgroup";
    NO_GROUP_SELECTED = 412, "No newsgroup selected";
    CURRENT_INVALID = 420, "Current article number is invalid";
    NO_NEXT = 421, "No next article in this group";
    NO_PREVIOUS = 422, "No previous article in this group";
    NO_SUCH_NUMBER = 423, "No article with that number";
    NO_SUCH_MSGID = 430, "No article with that message-id";
    CHECK_LATER = 431, "";
    NOT_WANTED = 435, "Article not wanted";
    TRANSFER_LATER = 436, "Transfer not possible; try again later";
    TRANSFER_REJECTED = 437, "Transfer rejected; do not retry";
    CHECK_NOT_WANTED = 438, "";
    TAKETHIS_REJECTED = 439, "";
    POST_NOT_PERMITTED = 440, "Posting not permitted";
    POST_FAILED = 441, "Posting failed";
    NO_SUCH_FILE = 494, "No such file here";
    FILE_REFUSED = 495, "File refused here";
    AUTH_REQUIRED = 480, "Peer authentication required (XPEER)";
    AUTH_REJECTED = 481, "Authentication failed";
    AUTH_OUT_OF_SEQUENCE = 482, "Authentication commands issued out of sequence";
    ENCRYPTION_REQUIRED = 483, "Encryption required: use STARTTLS first";
    UNKNOWN_COMMAND = 500, "Unknown command";
    SYNTAX_ERROR = 501, "Syntax error in command";
    NOT_PERMITTED = 502, "Command unavailable";
    FEATURE_UNSUPPORTED = 503, "Feature not supported";
}
