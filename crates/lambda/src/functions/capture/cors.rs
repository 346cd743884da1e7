//! CORS for the capture POST: only a session's own origins may send it,
//! and the preflight says so to them alone.

use http::{StatusCode, header};
use lambda_http::Request;
use tessera_core::capture::CaptureSession;

use super::{Capture, push};
use crate::functions::{Facts, Reply};
use crate::problem::Problem;

/// How long a browser may keep a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The request's `Origin`, if it is one of the session's.
fn allowed_origin<'a>(request: &'a Request, session: &CaptureSession) -> Option<&'a str> {
    request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| session.policy.allows_origin(o))
}

/// CORS for an allowed origin: that origin, never `*`, no credentials.
pub(super) fn cors(request: &Request, session: &CaptureSession, facts: &mut Facts) -> bool {
    // Caches must key on the Origin whether or not this one is allowed.
    push(facts, header::VARY, "Origin");
    match allowed_origin(request, session) {
        Some(origin) => {
            push(facts, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            true
        }
        None => false,
    }
}

impl Capture {
    /// `OPTIONS /v1/capture`: the preflight of the capture POST.
    pub(super) async fn preflight(
        &self,
        request: &Request,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let session = self.named_session(request, facts).await?;
        // Answered 204 either way; only an allowed origin gets the headers
        // that let the browser send the POST.
        if let Some(session) = &session
            && cors(request, session, facts)
        {
            push(facts, header::ACCESS_CONTROL_ALLOW_METHODS, "POST");
            push(
                facts,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            );
            push(facts, header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
        }
        Ok(Reply::empty(StatusCode::NO_CONTENT))
    }
}
