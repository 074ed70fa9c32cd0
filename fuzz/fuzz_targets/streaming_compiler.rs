//! The streaming compiler and the compiled-program loader on arbitrary bytes. The streaming
//! compiler must reach the in-memory parser's verdict (the same error, or the same program
//! digest); a program it compiles must survive write -> load; and the bytes themselves, read as
//! a compiled program file, must be refused or loaded without a panic.
#![no_main]

use garbled::circuit::{FormatChoice, Limits, bristol};
use garbled::compile::stream::{MAGIC, compile_bristol, load_compiled, write_compiled};
use garbled::spool::SpoolDir;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
    let format = match mode % 3 {
        0 => FormatChoice::Auto,
        1 => FormatChoice::Fashion,
        _ => FormatChoice::Bristol,
    };
    let limits = Limits { max_wires: 1 << 16, max_gates: 1 << 16 };
    let spool = SpoolDir::new(None).expect("a temporary directory");
    let memory = bristol::parse(text, format, &limits)
        .and_then(|p| garbled::compile::compile(&p.circuit));
    let streamed = compile_bristol(text, format, &limits, &spool);
    match (&memory, &streamed) {
        (Ok(m), Ok((s, _))) => assert_eq!(m.digest(), s.digest(), "digests differ"),
        (Err(m), Err(s)) => assert_eq!(m.to_string(), s.to_string(), "errors differ"),
        (m, s) => panic!("verdicts differ: memory {:?}, streamed {:?}", m.is_ok(), s.is_ok()),
    }
    let dir = std::env::temp_dir();
    let path = dir.join(format!("garbled-fuzz-{}.gcp", std::process::id()));
    if let Ok((program, _)) = streamed {
        let mut bytes = Vec::new();
        write_compiled(&program, &mut bytes).expect("writing to memory");
        std::fs::write(&path, &bytes).expect("temporary file");
        let loaded = load_compiled(&path).expect("a written program loads");
        assert_eq!(loaded.digest(), program.digest());
    }
    // The input as the body of a program file: refused or loaded, never a panic.
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(text);
    std::fs::write(&path, &file).expect("temporary file");
    let _ = load_compiled(&path);
    let _ = std::fs::remove_file(&path);
});
