//! The Bristol parser on arbitrary bytes, in all three dialect modes. A file it accepts must
//! also compile, evaluate, and survive write -> parse unchanged.
#![no_main]

use garbled::circuit::{FormatChoice, Limits, bristol, plain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else { return };
    let format = match mode % 3 {
        0 => FormatChoice::Auto,
        1 => FormatChoice::Fashion,
        _ => FormatChoice::Bristol,
    };
    // Small ceilings keep each execution fast; the ceiling logic itself is exercised too.
    let limits = Limits { max_wires: 1 << 16, max_gates: 1 << 16 };
    let Ok(parsed) = bristol::parse(text, format, &limits) else { return };
    let circuit = parsed.circuit;
    let program = garbled::compile::compile(&circuit).expect("a parsed circuit compiles");
    assert_eq!(program.input_count(), circuit.input_wire_count());
    let zeros = vec![0u64; circuit.input_wire_count()];
    plain::eval_lanes(&circuit, &zeros).expect("a parsed circuit evaluates");
    let written = bristol::to_fashion_string(&circuit);
    let again = bristol::parse(written.as_bytes(), FormatChoice::Fashion, &Limits::default())
        .expect("what the writer writes parses");
    assert_eq!(again.circuit, circuit, "parse -> write -> parse changed the circuit");
});
