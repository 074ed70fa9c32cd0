//! The handshake decoder on arbitrary peer bytes.
#![no_main]

use garbled::net::replay::ReplayChannel;
use garbled::protocol::handshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut channel = ReplayChannel::new(data.to_vec());
    if let Ok((hello, payload)) = handshake::receive(&mut channel) {
        assert!(payload.len() <= handshake::MAX_HELLO);
        // Comparing against any hello is an answer, never a panic.
        let _ = handshake::compare(&hello, &hello);
    }
});
