//! The `capture-sessions` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tessera_lambda::run::<tessera_lambda::CaptureSessions>().await
}
