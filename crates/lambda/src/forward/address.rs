//! Which addresses egress may connect to: public unicast only. Every
//! address a host resolves to is judged here before any connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which addresses egress may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    loopback: bool,
}

impl AddressPolicy {
    /// Public unicast addresses only: what production uses.
    pub fn public_only() -> AddressPolicy {
        AddressPolicy { loopback: false }
    }

    /// DEV AND TESTS ONLY: also 127.0.0.1, where the stub processor listens.
    /// No setting reaches this in a release build; the dev stack and tests
    /// construct it themselves.
    pub fn with_loopback_for_tests() -> AddressPolicy {
        AddressPolicy { loopback: true }
    }

    /// Whether egress may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        if self.loopback && ip == IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return true;
        }
        is_public(ip)
    }
}

/// Whether an address is public unicast: not loopback, private, link-local
/// (the instance metadata service 169.254.169.254 and fd00:ec2::254 among
/// them), shared, reserved, documentation, benchmarking, 6to4 relay,
/// discard-only, local-use NAT64, IPv4-mapped, multicast or unspecified;
/// the well-known NAT64 and 6to4 forms are judged by the IPv4 address they
/// carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (RFC 7526)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // The well-known NAT64 prefix (64:ff9b::/96) and 6to4 (2002::/16) carry
    // a public IPv4 address the network translates to; IPv4-mapped
    // addresses (::ffff:0:0/96, caught with all of ::/64 below) are an IPv4
    // socket in IPv6 dress, which no public host name resolves to.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return is_public_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 (RFC 8215)
        || (s[0] == 0x100 && s[1..4] == [0; 3]) // discard-only (RFC 6666)
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 among them
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || s[0..4] == [0; 4]) // ::/64: IPv4-mapped, -translated, -compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "ff02::1",
            "::127.0.0.1",
            // IPv4-mapped and -translated, even of a public address.
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "::ffff:0:0",
            // Local-use NAT64, discard-only, the 6to4 relay anycast.
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
            "192.88.99.1",
            "192.88.99.255",
            "2002:c058:6301::1",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(!is_public(ip), "{ip}");
            assert!(!AddressPolicy::public_only().allows(ip), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::6810:85e5",
            "64:ff9b::808:808",
            // Just past the edges of the refused ranges.
            "100:0:0:1::1",
            "192.88.98.1",
            "192.88.100.1",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(is_public(ip), "{ip}");
        }
        let loopback = AddressPolicy::with_loopback_for_tests();
        assert!(loopback.allows("127.0.0.1".parse().expect("ip")));
        assert!(!loopback.allows("169.254.169.254".parse().expect("ip")));
        assert!(!loopback.allows("::1".parse().expect("ip")));
    }
}
