//! How egress resolves a destination's host: the system resolver in
//! production; tests inject their own to prove that whatever resolution
//! returns is checked ([`crate::forward::address`]).

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;

/// Resolves a host name to addresses. Production uses the system resolver;
/// tests inject one to prove that what resolution returns is checked.
pub trait Resolve: Send + Sync {
    /// The addresses of `host`, with `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// DEV AND TESTS ONLY: names under `.localhost` are loopback (RFC 6761
/// 6.3); others go to the system resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalhostResolver;

impl Resolve for LocalhostResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        if host.ends_with(".localhost") {
            return Box::pin(
                async move { Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))]) },
            );
        }
        SystemResolver.resolve(host, port)
    }
}
