//! The `capture` Lambda function (the public capture API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tessera_lambda::run::<tessera_lambda::Capture>().await
}
