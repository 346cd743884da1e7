//! The capture function's static files: the frame's script and style and
//! the merchant's loader, served as they are built.

use http::{HeaderName, StatusCode, header};

use super::push;
use crate::functions::{Facts, Reply};

/// The frame's script.
pub const FRAME_JS: &str = include_str!("../../../assets/capture/frame.js");
/// The frame's style sheet.
pub const FRAME_CSS: &str = include_str!("../../../assets/capture/frame.css");
/// The merchant-side loader.
pub const LOADER_JS: &str = include_str!("../../../assets/capture/tessera-capture.js");

/// How long browsers may keep the static assets: short, so a fix reaches
/// shoppers within minutes (and a merchant's SRI pin names one version).
const ASSET_CACHE: &str = "public, max-age=300";

/// A static asset the capture function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `frame.js`
    FrameJs,
    /// `frame.css`
    FrameCss,
    /// `tessera-capture.js`, the merchant's loader.
    Loader,
}

impl Asset {
    fn body(self) -> &'static str {
        match self {
            Asset::FrameJs => FRAME_JS,
            Asset::FrameCss => FRAME_CSS,
            Asset::Loader => LOADER_JS,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::FrameJs | Asset::Loader => "text/javascript; charset=utf-8",
            Asset::FrameCss => "text/css; charset=utf-8",
        }
    }

    /// The asset's answer, with the headers its readers need.
    pub(super) fn reply(self, facts: &mut Facts) -> Reply {
        push(facts, header::CACHE_CONTROL, ASSET_CACHE);
        if self == Asset::Loader {
            // A public static script for any merchant page, loaded
            // with SRI and crossorigin="anonymous".
            push(facts, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
            push(
                facts,
                HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            );
        }
        Reply::text(StatusCode::OK, self.content_type(), self.body().to_owned())
    }
}
