// f32 <-> u32 key transforms (twins of keys.rs; see its docs for the order they define).
//
// Sort key: the contract's transform (non-negative: flip the sign bit; negative: invert all
// bits) followed by a wrapping subtraction of 0x7fffff, which moves negative NaNs from below
// -inf to above +inf. Bijective: sorts return every bit pattern unchanged.
// Descending rank key (top-k): ~sort_key, with every NaN tied at 0 (ranked first).

const KEY_IDENTITY: u32 = 0u;      // u32 keys as they are
const KEY_F32_SORT: u32 = 1u;      // f32 bits <-> ascending sort key
const KEY_F32_DESC_RANK: u32 = 2u; // f32 bits <-> descending rank key

// Lowest sort key of a NaN (+inf is one below).
const NAN_SORT_KEY_MIN: u32 = 0xff000002u;

fn f32_sort_key(bits: u32) -> u32 {
    let mask = select(0x80000000u, 0xffffffffu, (bits & 0x80000000u) != 0u);
    return (bits ^ mask) - 0x7fffffu;
}

fn f32_from_sort_key(key: u32) -> u32 {
    let k = key + 0x7fffffu;
    let mask = select(0xffffffffu, 0x80000000u, (k & 0x80000000u) != 0u);
    return k ^ mask;
}

fn f32_desc_rank_key(bits: u32) -> u32 {
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return 0u;
    }
    return ~f32_sort_key(bits);
}

fn f32_from_desc_rank_key(key: u32) -> u32 {
    if (key == 0u) {
        return 0x7fc00000u;
    }
    return f32_from_sort_key(~key);
}

// Raw element bits -> key, by a mode from the uniform parameters (uniform branch).
fn to_key(bits: u32, mode: u32) -> u32 {
    if (mode == KEY_F32_SORT) {
        return f32_sort_key(bits);
    }
    if (mode == KEY_F32_DESC_RANK) {
        return f32_desc_rank_key(bits);
    }
    return bits;
}

// Key -> element bits to store.
fn from_key(key: u32, mode: u32) -> u32 {
    if (mode == KEY_F32_SORT) {
        return f32_from_sort_key(key);
    }
    if (mode == KEY_F32_DESC_RANK) {
        return f32_from_desc_rank_key(key);
    }
    return key;
}
