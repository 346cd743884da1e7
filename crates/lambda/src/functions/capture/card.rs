//! The capture POST: the session's client secret checked, the card parsed,
//! and the card captured into the session, whose creator's scope and dedup
//! grant it is tokenized under.

use http::{StatusCode, header};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use tessera_core::Expiry;
use tessera_core::capture::{
    CaptureError, CaptureRequest, CardholderName, CardholderNameError, ClientSecret, SessionState,
};

use super::cors::cors;
use super::{Capture, session_param};
use crate::auth::Principal;
use crate::extract::{self, JsonBody};
use crate::fields::{SecretString, parse_pan};
use crate::functions::{Facts, Reply, fail};
use crate::problem::{Kind, Problem};
use crate::views::TokenView;

/// A capture body: the card as the frame sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    /// The card number.
    pub pan: SecretString,
    /// The card's expiry, `MM/YY`.
    #[serde(default)]
    pub expiry: Option<String>,
    /// The cardholder name.
    #[serde(default)]
    pub cardholder_name: Option<SecretString>,
}

impl JsonBody for CaptureBody {
    const FIELDS: &'static [&'static str] = &["pan", "expiry", "cardholder_name"];
}

/// What a capture answers: the token's facts the merchant page may see.
#[derive(Debug, Serialize)]
pub struct CapturedView {
    /// The token.
    pub token: String,
    /// Leading digits shown (as tokenize shows them).
    pub bin: String,
    /// Last four digits.
    pub last4: String,
    /// The brand.
    pub brand: &'static str,
    /// When the token stops detokenizing, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn unauthorized() -> Problem {
    // One answer for an unknown session, a wrong secret and a missing or
    // malformed bearer: nothing says whether the session exists.
    Problem::new(
        Kind::CaptureUnauthorized,
        "send the session's client secret as Authorization: Bearer, with ?session=<id>",
    )
}

fn closed(state: SessionState) -> Problem {
    let why = match state {
        SessionState::Used => "used: it has captured all its cards",
        SessionState::Expired => "expired",
        SessionState::Burned => "burned after too many failed attempts",
        SessionState::Open => "open",
    };
    Problem::new(
        Kind::CaptureSessionClosed,
        format!("the capture session is {why}; ask the merchant for a new one"),
    )
}

/// The bearer credential, if the header is exactly `Bearer <token>`.
fn bearer(request: &Request) -> Option<ClientSecret> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then(|| ClientSecret::presented(token))
}

impl Capture {
    /// `POST /v1/capture`: one card into the session.
    pub(super) async fn capture(
        &self,
        request: &Request,
        facts: &mut Facts,
    ) -> Result<Reply, Problem> {
        let (Some(id), Some(secret)) = (session_param(request), bearer(request)) else {
            facts.refused = Some("no session or bearer client secret");
            facts.capture_failures += 1;
            return Err(unauthorized());
        };
        facts.session = id.as_str().to_owned();
        let session = self.capturer.session(&id).await.map_err(fail)?;
        match self.capturer.authenticate(session.as_ref(), &secret).await {
            Ok(()) => {}
            Err(CaptureError::Unauthorized { burned_now }) => {
                facts.refused = Some("unknown capture session or wrong client secret");
                facts.capture_failures += 1;
                facts.sessions_burned += usize::from(burned_now);
                return Err(unauthorized());
            }
            Err(e) => {
                if let Some(session) = &session {
                    cors(request, session, facts);
                }
                return Err(self.refusal(e));
            }
        }
        let Some(session) = session else {
            return Err(unauthorized());
        };
        cors(request, &session, facts);
        let body = extract::json::<CaptureBody>(request)?;
        let pan = match parse_pan(&body.pan) {
            Ok(pan) => pan,
            Err(problem) => {
                // An invalid number counts: card testing sends many.
                facts.capture_failures += 1;
                let burned = self.capturer.fail(&session).await.map_err(fail)?;
                facts.sessions_burned += usize::from(burned);
                return Err(problem);
            }
        };
        let card_expiry = body
            .expiry
            .as_deref()
            .map(Expiry::card)
            .transpose()
            .map_err(|e| Problem::new(Kind::InvalidExpiry, e.to_string()))?;
        let cardholder_name = body
            .cardholder_name
            .as_ref()
            .map(|n| CardholderName::parse(n.expose()))
            .transpose()
            .map_err(|e| match e {
                CardholderNameError::LooksLikePan | CardholderNameError::Shape => {
                    Problem::new(Kind::InvalidCardholderName, e.to_string())
                }
            })?;
        let owner = Principal::parse(&session.owner)
            .ok_or_else(|| Problem::new(Kind::Internal, "the session's creator is malformed"))?;
        let wanted = CaptureRequest {
            pan,
            card_expiry,
            cardholder_name,
            scope: self.scopes.scope_of(&owner),
            dedup_granted: self.dedup_roles.allows(&owner),
        };
        let captured = self
            .capturer
            .capture(&session, wanted)
            .await
            .map_err(|e| self.refusal(e))?;
        facts.token(&captured.token);
        facts.issued(captured.created);
        facts.captures += 1;
        let view = TokenView::new(&captured.token, &captured.answer);
        Ok(Reply::json(
            StatusCode::CREATED,
            &CapturedView {
                token: view.token,
                bin: view.bin,
                last4: view.last4,
                brand: view.brand,
                expires_at: view.expires_at,
            },
        ))
    }

    fn refusal(&self, e: CaptureError) -> Problem {
        match e {
            CaptureError::Unauthorized { .. } => unauthorized(),
            CaptureError::Closed(state) => closed(state),
            CaptureError::ExpiryRequired => Problem::new(Kind::InvalidExpiry, e.to_string()),
            CaptureError::NameNotRequested => {
                Problem::new(Kind::InvalidCardholderName, e.to_string())
            }
            CaptureError::Core(e) => fail(e),
        }
    }
}
