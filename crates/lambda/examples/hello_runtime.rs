//! The cold-start baseline for `scripts/bench`: a hello-world `lambda_http`
//! function built with the same release profile as the four functions, so
//! the difference in start time is Tessera's own init.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn hello(_: Request) -> Result<Response<Body>, Error> {
    Ok(Response::new(Body::from("hello")))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
