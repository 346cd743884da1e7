//! Showing an answer: facts as JSON on stdout, detokenize's card number
//! alone on stdout, a problem's type, title and detail on stderr.

use std::fmt;
use std::io::Write;

use serde::Deserialize;
use serde_json::Value;
use tessera_core::{Token, mask_card_numbers};
use zeroize::Zeroizing;

use super::Answer;
use crate::{CliError, terminal};

/// What a successful answer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Token or capture-session facts, printed as JSON; a `pan` field in
    /// them (or in a session's cards) is refused.
    Facts,
    /// Detokenize's answer: only its card number is printed.
    Pan,
    /// No body (204): the token erased is noted on stderr.
    Nothing(Token),
}

/// An RFC 9457 problem the API answered with, every text masked of card
/// numbers (the API never sends one; this does not trust that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemReport {
    /// The HTTP status.
    pub status: u16,
    /// The stable `type` URI (`urn:tessera:problem:...`).
    pub kind: String,
    /// The `title`.
    pub title: String,
    /// The `detail`.
    pub detail: String,
    /// The `correlation_id`, to find the request in the audit log.
    pub correlation_id: String,
}

impl fmt::Display for ProblemReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        write!(f, "\n  type: {}", self.kind)?;
        write!(f, "\n  title: {}", self.title)?;
        write!(f, "\n  detail: {}", self.detail)?;
        if !self.correlation_id.is_empty() {
            write!(f, "\n  correlation id: {}", self.correlation_id)?;
        }
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProblemBody {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    detail: String,
    correlation_id: String,
    // API Gateway's own refusals (IAM, missing route): `{"message": ...}`
    // or `{"Message": ...}`.
    message: String,
    #[serde(rename = "Message")]
    message_upper: String,
}

/// Text from the API made safe to show: card numbers masked (read through
/// any invisible characters between their digits), then every control,
/// bidi and invisible character shown as an escape ([`terminal::escape`]).
fn clean(text: &str) -> String {
    terminal::escape(&mask_card_numbers(text)).into_owned()
}

/// A correlation id made safe to show. A request id the platform generated
/// (a UUID) is shown as it is: its hex groups can read as a card number
/// (`59350500-2222-...`), and masked it would no longer find the call in the
/// audit log. Anything else is [`clean`]ed.
fn clean_correlation_id(text: &str) -> String {
    let groups: Vec<&str> = text.split('-').collect();
    let uuid = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if uuid { text.to_owned() } else { clean(text) }
}

#[derive(Deserialize)]
struct Detokenized {
    pan: String,
}

/// Shows `answer`: on success writes what `expect` says to `stdout`; on an
/// error status returns [`CliError::Problem`] (shown by the caller on stderr).
pub fn show(
    answer: &Answer,
    expect: &Expect,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    if !answer.status.is_success() {
        return Err(problem(answer));
    }
    let write_err = |e: std::io::Error| CliError::Refused(format!("stdout: {e}"));
    match expect {
        Expect::Pan => {
            let found: Detokenized = serde_json::from_slice(&answer.body)
                .map_err(|_| CliError::Refused("the API's answer holds no card number".into()))?;
            let pan = Zeroizing::new(found.pan);
            // Printed exactly as it came, so it must be a card number's
            // digits and nothing else (no escape sequence rides along).
            if !(12..=19).contains(&pan.len()) || !pan.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CliError::Refused(
                    "the API's answer holds no card number (not 12 to 19 digits); not shown".into(),
                ));
            }
            let mut line = Zeroizing::new(String::with_capacity(pan.len() + 1));
            line.push_str(&pan);
            line.push('\n');
            stdout.write_all(line.as_bytes()).map_err(write_err)?;
        }
        Expect::Facts => {
            let facts: Value = serde_json::from_slice(&answer.body)
                .map_err(|_| CliError::Refused("the API's answer is not JSON".into()))?;
            if holds_pan(&facts) {
                return Err(CliError::Refused(
                    "the API's answer holds a card number where none belongs; not shown".into(),
                ));
            }
            let text = serde_json::to_string_pretty(&facts)
                .map_err(|_| CliError::Refused("the API's answer is not JSON".into()))?;
            // serde_json escapes C0 controls only; DEL, C1 and bidi
            // characters in a string are escaped here, JSON-style.
            writeln!(stdout, "{}", terminal::json(&text)).map_err(write_err)?;
        }
        Expect::Nothing(token) => {
            let _ = writeln!(
                stderr,
                "{}",
                terminal::escape(&format!("deleted {}", token.as_str()))
            );
        }
    }
    stdout.flush().map_err(write_err)
}

/// Whether facts hold a `pan` field: at the top, or in a capture session's
/// `cards`, each of which is a token's facts.
fn holds_pan(facts: &Value) -> bool {
    let cards = facts.get("cards").and_then(Value::as_array);
    facts.get("pan").is_some()
        || cards.is_some_and(|cards| cards.iter().any(|card| card.get("pan").is_some()))
}

/// The problem an error answer states, or what API Gateway said.
fn problem(answer: &Answer) -> CliError {
    let body: ProblemBody = serde_json::from_slice(&answer.body).unwrap_or_default();
    let reason = answer.status.canonical_reason().unwrap_or("error");
    let message = if body.message.is_empty() {
        body.message_upper
    } else {
        body.message
    };
    let title = if body.title.is_empty() {
        reason.to_owned()
    } else {
        body.title
    };
    let detail = if body.detail.is_empty() {
        message
    } else {
        body.detail
    };
    CliError::Problem(ProblemReport {
        status: answer.status.as_u16(),
        kind: clean(if body.kind.is_empty() {
            "(not a problem+json answer)"
        } else {
            &body.kind
        }),
        title: clean(&title),
        detail: clean(&detail),
        correlation_id: clean_correlation_id(&body.correlation_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn a_problem_is_shown_with_its_type_title_and_detail_and_never_a_card_number() {
        let a = answer(
            404,
            r#"{"type":"urn:tessera:problem:token-not-found","title":"Token not found","status":404,"detail":"4111 1111 1111 1111 \u001b[2J","correlation_id":"c-1"}"#,
        );
        let e = show(&a, &Expect::Facts, &mut Vec::new(), &mut Vec::new())
            .expect_err("a problem")
            .to_string();
        assert!(
            e.contains("type: urn:tessera:problem:token-not-found"),
            "{e}"
        );
        assert!(e.contains("title: Token not found"), "{e}");
        assert!(e.contains("correlation id: c-1"), "{e}");
        assert!(
            !e.contains("4111 1111 1111 1111") && !e.contains('\u{1b}'),
            "{e}"
        );
    }

    #[test]
    fn a_platform_request_id_is_shown_whole_and_anything_else_masked() {
        let id = "59350500-2222-43e3-b499-2ee83cd13ff7";
        assert_eq!(clean_correlation_id(id), id);
        assert_eq!(
            clean_correlation_id("4111-1111-1111-1111"),
            "4111-11**-****-1111"
        );
        assert_eq!(clean_correlation_id("cb-7731"), "cb-7731");
    }

    #[test]
    fn api_gateway_refusals_are_shown_too() {
        let a = answer(
            403,
            r#"{"Message":"User: arn:aws:sts::1:assumed-role/x/y is not authorized"}"#,
        );
        let e = show(&a, &Expect::Pan, &mut Vec::new(), &mut Vec::new())
            .expect_err("refused")
            .to_string();
        assert!(e.starts_with("403 Forbidden"), "{e}");
        assert!(e.contains("is not authorized"), "{e}");
    }

    #[test]
    fn facts_holding_a_pan_are_not_printed() {
        let a = answer(200, r#"{"pan":"4111111111111111","token":"tok_x"}"#);
        let mut out = Vec::new();
        assert!(show(&a, &Expect::Facts, &mut out, &mut Vec::new()).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn a_session_whose_cards_hold_a_pan_is_not_printed() {
        let a = answer(
            200,
            r#"{"session_id":"cs_x","cards":[{"token":"tok_x"},{"token":"tok_y","pan":"4111111111111111"}]}"#,
        );
        let mut out = Vec::new();
        assert!(show(&a, &Expect::Facts, &mut out, &mut Vec::new()).is_err());
        assert!(out.is_empty());
        let fine = answer(200, r#"{"session_id":"cs_x","cards":[{"token":"tok_x"}]}"#);
        show(&fine, &Expect::Facts, &mut out, &mut Vec::new()).expect("shown");
        assert!(!out.is_empty());
    }

    #[test]
    fn detokenize_prints_the_pan_alone() {
        let a = answer(
            200,
            r#"{"pan":"4111111111111111","token":"tok_x","last4":"1111"}"#,
        );
        let mut out = Vec::new();
        show(&a, &Expect::Pan, &mut out, &mut Vec::new()).expect("shown");
        assert_eq!(out, b"4111111111111111\n");
    }

    #[test]
    fn hostile_text_in_a_problem_or_facts_is_escaped_and_a_split_pan_masked() {
        let a = answer(
            400,
            r#"{"type":"urn:x\u001b]0;t\u0007","title":"Bad\u202e\u0085","detail":"4111\u200b1111\u00ad1111\u20601111 \u001b[2J","correlation_id":"c\u001b"}"#,
        );
        let e = show(&a, &Expect::Facts, &mut Vec::new(), &mut Vec::new()).expect_err("problem");
        let shown = terminal::error_line(&e);
        let structure: usize = shown.matches('\n').count();
        assert_eq!(structure, 4, "{shown}");
        assert!(
            shown.chars().all(|c| c == '\n' || !terminal::is_hidden(c)),
            "{shown:?}"
        );
        assert!(shown.contains("Bad\\u{202e}\\u{85}"), "{shown}");
        let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
        assert!(!digits.contains("4111111111111111"), "{shown}");

        let facts = answer(
            200,
            r#"{"token":"tok_x","metadata":{"k":"a\u202eb\u009b"}}"#,
        );
        let mut out = Vec::new();
        show(&facts, &Expect::Facts, &mut out, &mut Vec::new()).expect("shown");
        let out = String::from_utf8(out).expect("utf-8");
        assert!(out.contains(r"a\u202eb\u009b"), "{out}");
        let back: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(back["metadata"]["k"], "a\u{202e}b\u{9b}");
    }

    #[test]
    fn a_detokenize_answer_that_is_not_digits_is_not_printed() {
        for pan in [r"4111111111111111\u001b[2J", "4111 1111 1111 1111", "41111"] {
            let a = answer(200, &format!(r#"{{"pan":"{pan}"}}"#));
            let mut out = Vec::new();
            assert!(
                show(&a, &Expect::Pan, &mut out, &mut Vec::new()).is_err(),
                "{pan}"
            );
            assert!(out.is_empty());
        }
    }
}
