//! Well-known circuits, recognised by the digest of their compiled program (the digest the
//! handshake compares): `garbled info` names them, says what each input group is, and under
//! which bit order they give their published answers (see `shared/bristol/README.md` of the
//! reference kit, and `circuits/README.md`).

/// What `info` says about a known circuit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known {
    pub name: &'static str,
    pub inputs: &'static str,
    pub outputs: &'static str,
    pub bit_order: &'static str,
}

const BE: &str = "lsb0 (the default): byte strings are big-endian integers, so --input 0x… is the \
    value as written in the standard";
const INT: &str = "lsb0 (the default): wire k carries bit k of the integer";
const MSB: &str =
    "msb0 (pass --bit-order msb0): wire 0 is the most significant bit of the first byte";

/// Digests (lowercase hex) and descriptions.
static KNOWN: &[(&str, Known)] = &[
    (
        "31952cb7390fcf2b8f0f9817a8fe940090b29d31abe4323c5e746e80993f9a10",
        Known {
            name: "AES-128 (the original non-expanded AES circuit) (Bristol Fashion AES-non-expanded.txt)",
            inputs: "plaintext (128), key (128): plaintext first",
            outputs: "ciphertext (128)",
            bit_order: MSB,
        },
    ),
    (
        "161d4e579d255d1209e084c7d11c39969f568cfb5d5731f7a978caa43197b59a",
        Known {
            name: "IEEE 754 binary64 addition (Bristol Fashion FP-add.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a + b (64)",
            bit_order: INT,
        },
    ),
    (
        "f7f040e6d7425d4ec28af5d0f8bf64e6e3a5f04cadb70cc7288dd9fa1cc3aa69",
        Known {
            name: "IEEE 754 binary64 ceil (Bristol Fashion FP-ceil.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "ceil(a) (64)",
            bit_order: INT,
        },
    ),
    (
        "b04620d2e37270b0a1fdfcffe7cd259cce490eae9b696456d9a28a56aafeb4f8",
        Known {
            name: "IEEE 754 binary64 equality (Bristol Fashion FP-eq.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a == b in wire 0 of a 64-wire group",
            bit_order: INT,
        },
    ),
    (
        "87cd7e7e742150a14a5ce4560fc12f26b9f2e1299ff927bbdd2d67f54103002c",
        Known {
            name: "binary64 to int64, round half to even (Bristol Fashion FP-f2i.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "int64 (64)",
            bit_order: INT,
        },
    ),
    (
        "87b8548e990b498139bfc72ea9a9c1b78ae7d150fc0f00b4adb65bbaa247832b",
        Known {
            name: "IEEE 754 binary64 floor (Bristol Fashion FP-floor.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "floor(a) (64)",
            bit_order: INT,
        },
    ),
    (
        "9f32036edfd00039d4205549129d4d29be4d57c98273833992b7cf107fbdd3b0",
        Known {
            name: "int64 to binary64 (Bristol Fashion FP-i2f.txt)",
            inputs: "a: signed int64 (64)",
            outputs: "binary64 bit pattern (64)",
            bit_order: INT,
        },
    ),
    (
        "33828f5b0cafacdbc52ef36ea791cbd4963b5f00c4295f85f4c9a5269588632d",
        Known {
            name: "IEEE 754 binary64 less-than (Bristol Fashion FP-lt.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a < b in wire 0 of a 64-wire group",
            bit_order: INT,
        },
    ),
    (
        "32074770d00ef40ba68c43609d99e6bdd40f107d329dbd821bbf79011d8e5e65",
        Known {
            name: "IEEE 754 binary64 multiplication (Bristol Fashion FP-mul.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a * b (64)",
            bit_order: INT,
        },
    ),
    (
        "14440bd9370567614bf9c711aa174219286da2d23ccdf1fb798bcad93fd7145f",
        Known {
            name: "LSSS_to_GC: (a + b) mod p, centred, mod 2^64 (Bristol Fashion LSSS_to_GC.txt)",
            inputs: "a, b, p (512 each)",
            outputs: "c (64)",
            bit_order: INT,
        },
    ),
    (
        "f0ef542099796a9c9694181fdabee74a71b1a3027396225f19e12a901c8c7a8f",
        Known {
            name: "(a + b) mod p, 512 bits (Bristol Fashion ModAdd512.txt)",
            inputs: "a, b, p (512 each; a, b < p)",
            outputs: "c (512)",
            bit_order: INT,
        },
    ),
    (
        "a111f353cc68537bca84dacad5345c5079d13070e6ff830e147f9ad24e932399",
        Known {
            name: "64-bit adder (Bristol Fashion adder64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a + b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "a7bd6b30266fef3594e1409c7d8fc598963d22a4681311bdfa13028464a61671",
        Known {
            name: "AES-128 encryption (Bristol Fashion aes_128.txt)",
            inputs: "key (128), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "c32aa8477909ad0eaba747604ed0d95fac275f7d439c80316a52672104243564",
        Known {
            name: "AES-192 encryption (Bristol Fashion aes_192.txt)",
            inputs: "key (192), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "ea687b20d36e8619173a77dcbc082582b6d28a7eb9038a599ff117e411ff6ddc",
        Known {
            name: "AES-256 encryption (Bristol Fashion aes_256.txt)",
            inputs: "key (256), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "7c003c1a2dbcc29d2f29f852c82fdfe5911d4a3f5253f1624aa956926a8e2f71",
        Known {
            name: "64-bit signed division (truncating) (Bristol Fashion divide64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a / b (64)",
            bit_order: INT,
        },
    ),
    (
        "2021d8a6f7748a2edba5b6962303be02c36e022d5bc6b44ec9e71573959c6d9c",
        Known {
            name: "64x64 -> 128-bit unsigned multiplication (Bristol Fashion mult2_64.txt)",
            inputs: "a, b (64 each)",
            outputs: "high half (64), then low half (64)",
            bit_order: INT,
        },
    ),
    (
        "032bcb49f3f79b6838c5a2e9e51cfc14e7ed50cbac78c0cb9a06206c5508dcf3",
        Known {
            name: "64-bit multiplication (low half) (Bristol Fashion mult64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a * b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "16a24b9297f9af424418c78971518b4f7fe122870420f5b9fd98131d5156f670",
        Known {
            name: "64-bit negation (Bristol Fashion neg64.txt)",
            inputs: "a (64)",
            outputs: "-a mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "0a9e40662470ac4bb2df1a53a38cfac88ded578726e330c028a0b1e42bd89272",
        Known {
            name: "SHA-256 compression function (with feed-forward, no padding) (Bristol Fashion sha256.txt)",
            inputs: "block (512), state in (256)",
            outputs: "state out (256); with the standard IV and a padded one-block message, the SHA-256 digest",
            bit_order: BE,
        },
    ),
    (
        "ca15c3e66662d1ecc0b4716625477e139592032be152924548ed734dd2bd3f86",
        Known {
            name: "64-bit subtraction (Bristol Fashion sub64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a - b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "e6e2243c395d9b7113126d04fe8ff1b3121c2136e6596edf36fdf035079ac1d3",
        Known {
            name: "64-bit unsigned division (Bristol Fashion udivide64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a / b (64)",
            bit_order: INT,
        },
    ),
    (
        "8b9752ad40dc3e5ea143971158224268cff5260f61ea5f5d81fda5f05f895e0e",
        Known {
            name: "64-bit zero test (Bristol Fashion zero_equal.txt)",
            inputs: "a (64)",
            outputs: "a == 0 (1)",
            bit_order: INT,
        },
    ),
    (
        "c259800a0b52a784d8110e55b529de1bf336538dc1f429c4beb087567299d5e0",
        Known {
            name: "AES-128 (the original non-expanded AES circuit) (Bristol Fashion, MAND form AES-non-expanded.txt)",
            inputs: "plaintext (128), key (128): plaintext first",
            outputs: "ciphertext (128)",
            bit_order: MSB,
        },
    ),
    (
        "b657bc34855d81b662a288f723bbe35966064bf516326babc9a88250450e9af3",
        Known {
            name: "IEEE 754 binary64 addition (Bristol Fashion, MAND form FP-add.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a + b (64)",
            bit_order: INT,
        },
    ),
    (
        "e672f44f5bc43439dbf679018fdff8cd1ac97b3f20f32655fd0220146aa78bb1",
        Known {
            name: "IEEE 754 binary64 ceil (Bristol Fashion, MAND form FP-ceil.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "ceil(a) (64)",
            bit_order: INT,
        },
    ),
    (
        "e503924585025253f28d2ae64b0c080134c318d12c27710b0ca4657a217a48ef",
        Known {
            name: "IEEE 754 binary64 equality (Bristol Fashion, MAND form FP-eq.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a == b in wire 0 of a 64-wire group",
            bit_order: INT,
        },
    ),
    (
        "bb0d292e7766aa90f4992e4f3f295e928e9571e9e953abc4d3c33b161c3a64a0",
        Known {
            name: "binary64 to int64, round half to even (Bristol Fashion, MAND form FP-f2i.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "int64 (64)",
            bit_order: INT,
        },
    ),
    (
        "819ad4e9d8dadb64d78775c2c21ad0dec34ec98925ed909e089181c35fc0d26f",
        Known {
            name: "IEEE 754 binary64 floor (Bristol Fashion, MAND form FP-floor.txt)",
            inputs: "a: binary64 bit pattern (64)",
            outputs: "floor(a) (64)",
            bit_order: INT,
        },
    ),
    (
        "095bd1ddd838cb82f8f9dbe1f048e06d87b22680f681f2580d36bc61530ce276",
        Known {
            name: "int64 to binary64 (Bristol Fashion, MAND form FP-i2f.txt)",
            inputs: "a: signed int64 (64)",
            outputs: "binary64 bit pattern (64)",
            bit_order: INT,
        },
    ),
    (
        "dece47fd5a84e0d285f327bac4fa04bfe27f7ab6e1a011b0f4b6dba768e11cad",
        Known {
            name: "IEEE 754 binary64 less-than (Bristol Fashion, MAND form FP-lt.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a < b in wire 0 of a 64-wire group",
            bit_order: INT,
        },
    ),
    (
        "a00375fd5c44b96a126d1a142723e2ad6533fcd037f83d20d53ffd4ca4e0589a",
        Known {
            name: "IEEE 754 binary64 multiplication (Bristol Fashion, MAND form FP-mul.txt)",
            inputs: "a, b: binary64 bit patterns (64 each)",
            outputs: "a * b (64)",
            bit_order: INT,
        },
    ),
    (
        "498be2be7866547a55514212d6b1ded2f4f3813e0e4f8d172c710c2dbc2cfc0e",
        Known {
            name: "LSSS_to_GC: (a + b) mod p, centred, mod 2^64 (Bristol Fashion, MAND form LSSS_to_GC.txt)",
            inputs: "a, b, p (512 each)",
            outputs: "c (64)",
            bit_order: INT,
        },
    ),
    (
        "ebb7c137639099e1b7c0db0fc024f4e405144bfa2b801af381999848974f4d28",
        Known {
            name: "(a + b) mod p, 512 bits (Bristol Fashion, MAND form ModAdd512.txt)",
            inputs: "a, b, p (512 each; a, b < p)",
            outputs: "c (512)",
            bit_order: INT,
        },
    ),
    (
        "03e48471814b86564ff80d3089625cf4c7686e64c0b68a87a565ae4f02e34d41",
        Known {
            name: "AES-128 encryption (Bristol Fashion, MAND form aes_128.txt)",
            inputs: "key (128), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "08d0ce206cfb3de067a479ab66bd70c2d7c6c60b436429121fae34c8a2065800",
        Known {
            name: "AES-192 encryption (Bristol Fashion, MAND form aes_192.txt)",
            inputs: "key (192), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "e9f05833593aaf56aac2a761245f46df9a931a3998846bdcb0a5cad0bbf4241c",
        Known {
            name: "AES-256 encryption (Bristol Fashion, MAND form aes_256.txt)",
            inputs: "key (256), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "5d9903d7e9981fb0e277c14c53ea993b89eddc0ef45b2eda1c7cad61f7c1ee62",
        Known {
            name: "64-bit signed division (truncating) (Bristol Fashion, MAND form divide64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a / b (64)",
            bit_order: INT,
        },
    ),
    (
        "fb69f7cea2e8794b2fea2d27ef695bbff3c3bbcf02b180d70360e12425e54265",
        Known {
            name: "64x64 -> 128-bit unsigned multiplication (Bristol Fashion, MAND form mult2_64.txt)",
            inputs: "a, b (64 each)",
            outputs: "high half (64), then low half (64)",
            bit_order: INT,
        },
    ),
    (
        "4aad5b1f7380db84ce1ac9d9246d673a13649058207711ca2d33ccbb83281501",
        Known {
            name: "64-bit multiplication (low half) (Bristol Fashion, MAND form mult64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a * b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "cdd5d87904fc4448ddf1ec788756009e1c9ad7bdc4032543554a8d505a7a517b",
        Known {
            name: "SHA-256 compression function (with feed-forward, no padding) (Bristol Fashion, MAND form sha256.txt)",
            inputs: "block (512), state in (256)",
            outputs: "state out (256); with the standard IV and a padded one-block message, the SHA-256 digest",
            bit_order: BE,
        },
    ),
    (
        "baecfe560bdb4478283cc383696fbfd0f159b21a0b4c90b43caba6aa46229148",
        Known {
            name: "64-bit unsigned division (Bristol Fashion, MAND form udivide64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a / b (64)",
            bit_order: INT,
        },
    ),
    (
        "0c2690271ccc17150a9ed9cc35a55cb981543ca0d6402d9a37fb252a484a5148",
        Known {
            name: "64-bit zero test (Bristol Fashion, MAND form zero_equal.txt)",
            inputs: "a (64)",
            outputs: "a == 0 (1)",
            bit_order: INT,
        },
    ),
    (
        "ca697c478ae18e1591a23738da2f72be9efb8a037b0a4c9fe4b6661e8d9a4049",
        Known {
            name: "AES-128 with an expanded key (old Bristol Format AES-expanded.txt)",
            inputs: "plaintext (128), the 11 round keys (1408)",
            outputs: "ciphertext (128)",
            bit_order: MSB,
        },
    ),
    (
        "db76e4794b8978fa539d3416c7011170b545cc4f76274679456a9b28ea2e76a1",
        Known {
            name: "DES with expanded subkeys (old Bristol Format DES-expanded.txt)",
            inputs: "plaintext (64), subkeys K1..K16 (768)",
            outputs: "ciphertext (64)",
            bit_order: MSB,
        },
    ),
    (
        "5af37f1570d4df8ca5c3fc1f433a924ea290c1d44fc5a42a9937d0ab81203562",
        Known {
            name: "DES (old Bristol Format DES-non-expanded.txt)",
            inputs: "plaintext (64), key (64 with parity bits)",
            outputs: "ciphertext (64)",
            bit_order: MSB,
        },
    ),
    (
        "a9a19cfb71ad53e73000ef84134ef91de7878a3310a07f7f55058e257a30773b",
        Known {
            name: "32-bit adder with carry (old Bristol Format adder_32bit.txt)",
            inputs: "a, b (32 each)",
            outputs: "a + b (33)",
            bit_order: INT,
        },
    ),
    (
        "680b51d1e31e1c2db39ed75fae0215672db5597d3d7342f0f1765a2d8f64933e",
        Known {
            name: "64-bit adder with carry (old Bristol Format adder_64bit.txt)",
            inputs: "a, b (64 each)",
            outputs: "a + b (65)",
            bit_order: INT,
        },
    ),
    (
        "5dccb05dc64753306dee9fd4aea7d192d5028abb651b5e0ebdb738d41c8f1726",
        Known {
            name: "32-bit signed less-than (old Bristol Format comparator_32bit_signed_lt.txt)",
            inputs: "a, b (32 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "ab43ca4a346481fbce956ebd13df6dda4c44a1b25f5a4e96e426be6da51a46ce",
        Known {
            name: "32-bit signed less-or-equal (old Bristol Format comparator_32bit_signed_lteq.txt)",
            inputs: "a, b (32 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "9d78dcb1b04931ba6badeffb2c66dfe002415f80e88b0399d00564e6e5c03c01",
        Known {
            name: "32-bit unsigned less-than (old Bristol Format comparator_32bit_unsigned_lt.txt)",
            inputs: "a, b (32 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "cdf76ead1ffd93c470ad6ac6e5b47a5ee6085991fd2db593e71f11cf2343c8cb",
        Known {
            name: "32-bit unsigned less-or-equal (old Bristol Format comparator_32bit_unsigned_lteq.txt)",
            inputs: "a, b (32 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "e8be042b042634f77e007820e660f97070180d6153d8b218158d19cd14b77f19",
        Known {
            name: "MD5 compression of one block (standard IV inside) (old Bristol Format md5.txt)",
            inputs: "block (512)",
            outputs: "digest (128), formatted like the MD5 digest",
            bit_order: MSB,
        },
    ),
    (
        "8f867fbd0b36168163576ae027e5eccaf61f447268b635b31af4193623e18c99",
        Known {
            name: "32x32 -> 64-bit unsigned multiplication (old Bristol Format mult_32x32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a * b (64)",
            bit_order: INT,
        },
    ),
    (
        "3fd3afb439e3c44a0a712b171258a8b0252a7034cf17853600603a6ea602663d",
        Known {
            name: "SHA-1 compression of one block (standard IV inside) (old Bristol Format sha-1.txt)",
            inputs: "block (512)",
            outputs: "digest (160)",
            bit_order: MSB,
        },
    ),
    (
        "fd391d600b64efc661fb483663a23187e3dfc3ba673eb159850517dc8124b97e",
        Known {
            name: "32-bit adder (circuits/add32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a + b mod 2^32 (32)",
            bit_order: INT,
        },
    ),
    (
        "a9092b1dcc79d21c1fa83256c2f7f3813d3ab61e9f7d2c559f50c608a0de51d0",
        Known {
            name: "64-bit adder (circuits/add64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a + b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "b64d304b4e934e9fd60954cf3468de7b97cd579f301c734f6182c22e050cbab7",
        Known {
            name: "AES-128 encryption (Boyar-Peralta S-box) (circuits/aes128.txt)",
            inputs: "key (128), plaintext (128): key first",
            outputs: "ciphertext (128)",
            bit_order: BE,
        },
    ),
    (
        "212097f535927af07db85b67b146cfe42c092507e0339323bd79bfd97f678e2f",
        Known {
            name: "32-bit unsigned three-way comparison (the `garbled compare` circuit) (circuits/compare32.txt)",
            inputs: "a, b (32 each)",
            outputs: "less (1), equal (1)",
            bit_order: INT,
        },
    ),
    (
        "508582db7958596b83a99c2cdaac4f141e938c75707ae29ccbe49a6423c82d73",
        Known {
            name: "64-bit unsigned three-way comparison (the `garbled compare` circuit) (circuits/compare64.txt)",
            inputs: "a, b (64 each)",
            outputs: "less (1), equal (1)",
            bit_order: INT,
        },
    ),
    (
        "98ed2564393f4ba1bbc7d5ea6057eebbffb69ad2db78765090e80935a97b3582",
        Known {
            name: "32-bit equality (circuits/eq32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a == b (1)",
            bit_order: INT,
        },
    ),
    (
        "cc2f644a21ad9399eb1bb618a7b7a8fdde733ae0ba2680c22ca9ef86ba78d184",
        Known {
            name: "64-bit equality (circuits/eq64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a == b (1)",
            bit_order: INT,
        },
    ),
    (
        "5131fe836a03126d26dba68113d2183b3e43e2c6fec51556d1e865c4f90c0bd1",
        Known {
            name: "32-bit unsigned less-or-equal (circuits/le32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "75229c185e2a31faa4dd15375cfbdf9fd926f32f3c6ca7e611e37d565cb69915",
        Known {
            name: "64-bit unsigned less-or-equal (circuits/le64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "ee85c7e01df6fad062a4f87a62f2590184ffa34bf906dc6af4a63a8faf11aceb",
        Known {
            name: "32-bit unsigned less-than (circuits/lt32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "3b8773e501950a650dbc3c5b7d88e4f096b302a534a11c73b7d95576b1a4ccd7",
        Known {
            name: "64-bit unsigned less-than (circuits/lt64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "027ff59132353992dcfe0145e93ab92ece1210756ad8e921d24a416df19098a0",
        Known {
            name: "32-bit multiplication (low half) (circuits/mul32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a * b mod 2^32 (32)",
            bit_order: INT,
        },
    ),
    (
        "23834eb6cf6f5dcb4f05635aac926c00ec4a3bf04729230ef28d43783f194277",
        Known {
            name: "64-bit multiplication (low half) (circuits/mul64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a * b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
    (
        "40b7a342769474219baec36ec3a036ac0888b4e3025d156e2144e5152c32ba99",
        Known {
            name: "SHA-256 compression function (circuits/sha256.txt)",
            inputs: "block (512), state in (256)",
            outputs: "state out (256)",
            bit_order: BE,
        },
    ),
    (
        "877eac4575942d73819c237a0d9ac2825b365747acd15dca13a385e69ef973bb",
        Known {
            name: "32-bit signed less-or-equal (circuits/sle32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "bf9c78df372ab8402d4cd888377b38a55c257670fde848a33c591ebf2b54da17",
        Known {
            name: "64-bit signed less-or-equal (circuits/sle64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a <= b (1)",
            bit_order: INT,
        },
    ),
    (
        "431a25fca0d1009a1dcb1788e79d093458aa700ab317e99384bd91bf41f8145a",
        Known {
            name: "32-bit signed less-than (circuits/slt32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "5d1b80cee0c20ad53cc1ba50c1bdb95bfec70edbef526b7e510de93518cf8e37",
        Known {
            name: "64-bit signed less-than (circuits/slt64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a < b (1)",
            bit_order: INT,
        },
    ),
    (
        "8e58ea62ec66cf3912ea159130d054a8a9a34808a2bb723b0ab6dd1744243152",
        Known {
            name: "32-bit subtraction (circuits/sub32.txt)",
            inputs: "a, b (32 each)",
            outputs: "a - b mod 2^32 (32)",
            bit_order: INT,
        },
    ),
    (
        "ab1c6c565499769bd6f08d392f92fb36596974592071f55f1c18384aa1a767b7",
        Known {
            name: "64-bit subtraction (circuits/sub64.txt)",
            inputs: "a, b (64 each)",
            outputs: "a - b mod 2^64 (64)",
            bit_order: INT,
        },
    ),
];

/// The known circuit with this program digest, if any.
pub(crate) fn lookup(digest: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|(d, _)| *d == digest).map(|(_, k)| k)
}
