//! No Apple hardware runs our CI, so this is how we know the Metal path compiles: every WGSL
//! shader variant of every kernel is parsed, validated and translated to Metal Shading
//! Language by naga — the same front and back ends wgpu uses on macOS.
//!
//! Variants without subgroups are validated *without* the subgroup capability, which also
//! proves the portable fallback really avoids subgroup operations. Each shader is translated
//! twice: as written (parameters in a uniform buffer) and in the immediate-data form the
//! runtime builds where the device offers it (Metal's `setBytes`).

use naga::back::msl;
use naga::valid::{Capabilities, ShaderStages, SubgroupOperationSet, ValidationFlags, Validator};

fn translate(label: &str, source: &str, entry: &str, subgroups: bool) -> Result<String, String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| format!("{label}: WGSL parse error: {}", e.emit_to_string(source)))?;
    let mut caps = if subgroups { Capabilities::SUBGROUP } else { Capabilities::empty() };
    if source.contains("var<immediate>") {
        caps |= Capabilities::IMMEDIATES;
    }
    let mut validator = Validator::new(ValidationFlags::all(), caps);
    if subgroups {
        validator
            .subgroup_stages(ShaderStages::COMPUTE)
            .subgroup_operations(SubgroupOperationSet::all());
    }
    let info = validator
        .validate(&module)
        .map_err(|e| format!("{label}: validation error: {}", e.emit_to_string(source)))?;
    assert!(
        module.entry_points.iter().any(|ep| ep.name == entry),
        "{label}: entry point {entry} missing"
    );
    let options = msl::Options { lang_version: (2, 4), ..Default::default() };
    let pipeline = msl::PipelineOptions {
        entry_point: Some((naga::ShaderStage::Compute, entry.to_string())),
        ..Default::default()
    };
    let (text, _) = msl::write_string(&module, &info, &options, &pipeline)
        .map_err(|e| format!("{label}: MSL translation failed: {e}"))?;
    Ok(text)
}

/// Size of the shader's `params` block, as laid out by naga.
fn params_bytes(source: &str) -> Option<u32> {
    let module = naga::front::wgsl::parse_str(source).ok()?;
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).ok()?;
    let (_, var) =
        module.global_variables.iter().find(|(_, g)| g.name.as_deref() == Some("params"))?;
    Some(layouter[var.ty].size)
}

#[test]
fn every_kernel_shader_translates_to_metal() {
    let variants = fastpath_kernels::all_wgsl_variants();
    let registry = fastpath_kernels::registry();
    // Every kernel with a GPU implementation lists at least one variant.
    for k in registry.iter() {
        assert!(variants.iter().any(|(id, _)| *id == k.id()), "{} lists no WGSL variant", k.id());
    }
    let mut failures = Vec::new();
    let mut translated = 0;
    for (id, v) in &variants {
        match translate(&v.label, &v.source, &v.entry, v.uses_subgroups) {
            Ok(msl) => {
                assert!(msl.contains("kernel void"), "{id}/{}: no kernel function in MSL", v.label);
                if v.uses_subgroups {
                    assert!(
                        msl.contains("simd_"),
                        "{id}/{}: subgroup variant without SIMD-group ops",
                        v.label
                    );
                }
                translated += 1;
            }
            Err(e) => failures.push(format!("{id}: {e}")),
        }
        let Some(immediate) = fastpath_gpu::immediate_form(&v.source) else {
            failures.push(format!("{id}/{}: no parameter block at binding 0", v.label));
            continue;
        };
        match params_bytes(&v.source) {
            Some(bytes) if bytes <= fastpath_gpu::MIN_IMMEDIATE_BYTES => {}
            other => failures.push(format!(
                "{id}/{}: parameter block of {other:?} bytes; immediate data is only used on \
                 devices offering {} bytes or more",
                v.label,
                fastpath_gpu::MIN_IMMEDIATE_BYTES
            )),
        }
        if let Err(e) = translate(&v.label, &immediate, &v.entry, v.uses_subgroups) {
            failures.push(format!("{id} (immediate parameters): {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} shaders failed:\n{}",
        failures.len(),
        variants.len(),
        failures.join("\n")
    );
    assert!(translated >= registry.len());
}

/// The check above can fail: a subgroup variant validated without the subgroup capability is
/// rejected, and broken WGSL is reported.
#[test]
fn translation_check_rejects_what_metal_would_reject() {
    let variants = fastpath_kernels::all_wgsl_variants();
    let (_, sg) = variants.iter().find(|(_, v)| v.uses_subgroups).expect("a subgroup variant");
    assert!(translate(&sg.label, &sg.source, &sg.entry, false).is_err());
    assert!(translate("broken", "fn main( {", "main", false).is_err());
    let count = variants.len();
    assert!(count >= 50, "expected every variant of every kernel, found {count}");
    // The parameter-size check measures the block as naga lays it out.
    let block = |fields: &str| {
        format!(
            "struct Params {{ {fields} }}\n@group(0) @binding(0) var<uniform> params: Params;\n\
             @compute @workgroup_size(1) fn main() {{ _ = params; }}"
        )
    };
    assert_eq!(params_bytes(&block("n: u32")), Some(4));
    assert_eq!(params_bytes(&block("a: vec4<u32>, b: array<vec4<f32>, 7>")), Some(128));
}
