//! The hosted frame's page: its template filled in for one session, and the
//! headers that let only the session's origins frame it.

use http::{StatusCode, header};
use lambda_http::{Request, RequestExt};
use tessera_core::capture::{CaptureSession, Lang};

use super::{Capture, push};
use crate::functions::{Facts, Reply};
use crate::problem::{Kind, Problem};

/// The frame's HTML template (capfront's); its only placeholders are the
/// root element's attributes.
pub const FRAME_HTML: &str = include_str!("../../../assets/capture/frame.html");

/// The frame's CSP before `frame-ancestors`: its own script and style only
/// (no inline), posts only to its own origin, no forms, no base.
const FRAME_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors";
/// What answers that are not the frame say about framing and content.
const NO_FRAMING_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Escapes text for a double- or single-quoted HTML attribute.
pub fn attribute_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The frame's HTML for `session` at `now`, in `lang`: the template's four
/// placeholders replaced, in one pass, by attribute-escaped values.
pub fn render_frame(session: &CaptureSession, lang: Lang, now: i64) -> String {
    let origins = session
        .policy
        .origins()
        .iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let values = [
        ("{{lang}}", lang.as_str().to_owned()),
        ("{{session}}", session.id.as_str().to_owned()),
        ("{{origins}}", origins),
        ("{{state}}", session.state(now).as_str().to_owned()),
    ];
    let mut out = String::with_capacity(FRAME_HTML.len() + 256);
    let mut rest = FRAME_HTML;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match values.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(&attribute_escape(value));
                rest = &tail[name.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Capture {
    /// `GET /capture/v1/frame`: the frame for the named session.
    pub(super) async fn frame(
        &self,
        request: &Request,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let session = self.named_session(request, facts).await?;
        let Some(session) = session else {
            push(facts, header::CONTENT_SECURITY_POLICY, NO_FRAMING_CSP);
            return Err(Problem::new(
                Kind::CaptureSessionNotFound,
                "no capture session by that id",
            ));
        };
        let lang = request
            .query_string_parameters_ref()
            .and_then(|q| q.first("lang"))
            .and_then(Lang::from_name)
            .unwrap_or(session.policy.lang);
        let ancestors = session
            .policy
            .origins()
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        push(
            facts,
            header::CONTENT_SECURITY_POLICY,
            &format!("{FRAME_CSP} {ancestors}"),
        );
        push(facts, header::REFERRER_POLICY, "no-referrer");
        let now = self.capturer.now_secs();
        Ok(Reply::text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            render_frame(&session, lang, now),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(
            attribute_escape(r#"a"b'c<d>&e"#),
            "a&quot;b&#39;c&lt;d&gt;&amp;e"
        );
    }

    #[test]
    fn the_template_has_exactly_the_four_placeholders_in_its_root_element() {
        let root_end = FRAME_HTML.find('>').expect("a root");
        let html = FRAME_HTML.find("<html").expect("an html element");
        let root = &FRAME_HTML[html..FRAME_HTML[html..].find('>').map_or(root_end, |i| html + i)];
        for name in ["{{lang}}", "{{session}}", "{{origins}}", "{{state}}"] {
            assert!(root.contains(name), "{name} in {root}");
        }
        let after = &FRAME_HTML[html + root.len()..];
        assert!(
            !after.contains("{{"),
            "placeholders only in the root element"
        );
    }
}
