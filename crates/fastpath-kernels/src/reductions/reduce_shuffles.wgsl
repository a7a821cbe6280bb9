// Subgroup exchanges for each state family (only in subgroup variants: using a subgroup
// builtin without the feature fails validation even in dead code).

fn shuffle_sum(s: f32, m: u32) -> f32 {
    return subgroupShuffleXor(s, m);
}
fn shuffle_min(s: f32, m: u32) -> f32 {
    return subgroupShuffleXor(s, m);
}
fn shuffle_max(s: f32, m: u32) -> f32 {
    return subgroupShuffleXor(s, m);
}
fn shuffle_count(s: u32, m: u32) -> u32 {
    return subgroupShuffleXor(s, m);
}
fn shuffle_welford(s: Welford, m: u32) -> Welford {
    return Welford(subgroupShuffleXor(s.n, m), subgroupShuffleXor(s.mean, m), subgroupShuffleXor(s.m2, m));
}
fn shuffle_argmax(s: Arg, m: u32) -> Arg {
    return Arg(subgroupShuffleXor(s.v, m), subgroupShuffleXor(s.i, m));
}
fn shuffle_argmin(s: Arg, m: u32) -> Arg {
    return Arg(subgroupShuffleXor(s.v, m), subgroupShuffleXor(s.i, m));
}
fn shuffle_l2(s: vec3<f32>, m: u32) -> vec3<f32> {
    return subgroupShuffleXor(s, m);
}
