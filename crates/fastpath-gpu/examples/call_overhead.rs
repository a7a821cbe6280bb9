//! Where the fixed cost of one standalone GPU call goes: record, submit, wait.
//!
//! Runs one tiny dispatch (y = a·x + b over 1024 f32) many times, each recorded, submitted and
//! waited for, through several paths that add one cost at a time:
//!
//! * raw wgpu with everything prebuilt (the floor wgpu itself allows);
//! * + a bind group created per call; + the parameter block written with `Queue::write_buffer`;
//! * + error scopes; and fastpath's own `Gpu::dispatch` + `Gpu::synchronize`;
//! * fastpath's path with `IDLE_BUFFERS` (default 4000) other buffers alive, as a long
//!   benchmark process has in its buffer pool, and with the buffer cache full of large buffers.
//!
//! On the 2-core machine with lavapipe (2026-12-06, 500 calls, four runs): 4000 idle buffers
//! alive: submit 19.7-20.4 µs against 10.7-16.3 (one run 43). With a cache full of 4 MiB
//! buffers, the pool that destroyed the buffer just released (before 2026-12-06) created a
//! buffer per call (record 5.8-7.1 µs against 3.1-3.9); evicting the oldest instead keeps
//! the record at 3.1-3.8 µs.
//!
//! `cargo run --release -p fastpath-gpu --example call_overhead [-- CALLS]`. Prints the median
//! and 90th percentile of each phase in µs. `ARENA=BYTES` sizes the raw paths' uniform buffer
//! (fastpath's arena is 1 MiB; on the H100 host 256 B and 1 MiB timed the same).
//!
//! On the H100 host (driver 580.159.04, commit 0e03092, 3000 calls): raw wgpu with everything
//! prebuilt 27.6 µs (record 4.1, submit 4.5, wait 19.1) when the wait spins and 50.4 µs when
//! it blocks; a bind group per call +1.2 µs, `write_buffer` of the parameters +9.1 µs, error
//! scopes +0.4 µs; immediates instead of the uniform 28.1 µs.

use std::time::{Duration, Instant};

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuOptions, ShaderSpec};

const SHADER: &str = r#"
struct Params { n: u32, a: f32, b: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i < params.n) { y[i] = params.a * x[i] + params.b; }
}
"#;

const N: u32 = 1024;

#[derive(Default)]
struct Phases {
    record: Vec<f64>,
    submit: Vec<f64>,
    wait: Vec<f64>,
    total: Vec<f64>,
}

impl Phases {
    fn push(&mut self, t: [Instant; 4]) {
        let us = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e6;
        self.record.push(us(t[0], t[1]));
        self.submit.push(us(t[1], t[2]));
        self.wait.push(us(t[2], t[3]));
        self.total.push(us(t[0], t[3]));
    }
    fn print(&mut self, name: &str) {
        let q = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * p).round() as usize]
        };
        println!(
            "{name:<34} record {:>6.1} / {:>6.1}  submit {:>6.1} / {:>6.1}  wait {:>6.1} / {:>6.1}  total {:>6.1} / {:>6.1}",
            q(&mut self.record, 0.5),
            q(&mut self.record, 0.9),
            q(&mut self.submit, 0.5),
            q(&mut self.submit, 0.9),
            q(&mut self.wait, 0.5),
            q(&mut self.wait, 0.9),
            q(&mut self.total, 0.5),
            q(&mut self.total, 0.9),
        );
    }
}

/// Polls the fence without sleeping until the submission has finished (fastpath's wait does
/// the same for up to 2 ms before it blocks).
fn spin_until_done(device: &wgpu::Device, index: &wgpu::SubmissionIndex) {
    while let Err(wgpu::PollError::Timeout) = device.poll(wgpu::PollType::Wait {
        submission_index: Some(index.clone()),
        timeout: Some(Duration::ZERO),
    }) {
        std::hint::spin_loop();
    }
}

#[derive(Clone, Copy)]
struct Raw {
    bind_group_per_call: bool,
    write_params: bool,
    scopes: bool,
    spin: bool,
}

/// fastpath's path, `calls` times after 50 unmeasured: dispatch (record) → flush (submit) →
/// synchronize (wait), with a fresh output each call.
fn time_fastpath(
    gpu: &Gpu,
    pipeline: &fastpath_gpu::Pipeline,
    x: &fastpath_gpu::GpuTensor,
    params: &[u32; 4],
    calls: usize,
) -> Phases {
    let mut fp = Phases::default();
    for i in 0..calls + 50 {
        let t0 = Instant::now();
        let out = gpu.empty(DType::F32, vec![N as usize]).unwrap();
        gpu.dispatch(&Dispatch {
            pipeline,
            params: bytemuck::bytes_of(params),
            bindings: &[x.binding(), out.binding()],
            workgroups: [N / 256, 1, 1],
        })
        .unwrap();
        let t1 = Instant::now();
        gpu.flush().unwrap();
        let t2 = Instant::now();
        gpu.synchronize().unwrap();
        let t3 = Instant::now();
        if i >= 50 {
            fp.push([t0, t1, t2, t3]);
        }
        // The result is right (2x + 1), so the timings are of real work.
        if i == 0 {
            let y: Vec<f32> = gpu.read(&out).unwrap();
            assert!(y.iter().enumerate().all(|(i, &v)| v == 2.0 * i as f32 + 1.0));
        }
    }
    fp
}

fn main() {
    let calls: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let params: [u32; 4] = [N, 2f32.to_bits(), 1f32.to_bits(), 0];
    let data: Vec<f32> = (0..N).map(|i| i as f32).collect();
    let open_with = |options: GpuOptions| {
        let gpu = Gpu::new(options).expect("a GPU adapter");
        let pipeline = gpu
            .pipeline(&ShaderSpec {
                label: "axpb",
                source: SHADER,
                entry: "main",
                storage: &[Access::ReadOnly, Access::ReadWrite],
                constants: &[],
            })
            .unwrap();
        let x = gpu.upload(&data, DType::F32, vec![N as usize]).unwrap();
        (gpu, pipeline, x)
    };
    let open =
        |use_immediates: bool| open_with(GpuOptions { use_immediates, ..Default::default() });

    // fastpath's path: dispatch (record) → flush (submit) → synchronize (wait), with the
    // parameter block as immediate data where the device offers it, then in the uniform arena.
    let mut names = Vec::new();
    for use_immediates in [true, false] {
        let (gpu, pipeline, x) = open(use_immediates);
        if names.is_empty() {
            println!("adapter: {:?}; {calls} calls per path; µs median / p90", gpu.adapter().name);
        }
        let name = if pipeline.uses_immediates() {
            "fastpath, immediate parameters"
        } else {
            "fastpath, uniform arena"
        };
        if names.contains(&name) {
            continue; // no immediates on this device: the first pass already was the arena
        }
        names.push(name);
        time_fastpath(&gpu, &pipeline, &x, &params, calls).print(name);
        if use_immediates {
            // The same calls with many idle buffers alive, as a long benchmark process has in
            // its buffer pool: does a call's host-side cost grow with them?
            let idle: usize =
                std::env::var("IDLE_BUFFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(4000);
            let alive: Vec<_> =
                (0..idle).map(|i| gpu.empty(DType::F32, vec![1024 << (i % 8)]).unwrap()).collect();
            gpu.synchronize().unwrap();
            let label = format!("{name}, {idle} idle buffers alive");
            time_fastpath(&gpu, &pipeline, &x, &params, calls).print(&label);
            drop(alive);
            // And with the buffer cache full of large buffers from an earlier phase (a 64 MiB
            // cache here, 4 GiB by default): the pool must make room for the calls' outputs.
            let (gpu, pipeline, x) =
                open_with(GpuOptions { pool_cache_bytes: 64 << 20, ..Default::default() });
            let big: Vec<_> =
                (0..16).map(|_| gpu.empty(DType::U8, vec![4 << 20]).unwrap()).collect();
            drop(big);
            gpu.synchronize().unwrap();
            time_fastpath(&gpu, &pipeline, &x, &params, calls)
                .print(&format!("{name}, cache full of 4 MiB buffers"));
        }
    }

    // The raw paths bind the parameter block as a uniform, so they use a device without
    // immediates.
    let (gpu, pipeline, x) = open(false);
    let y = gpu.empty(DType::F32, vec![N as usize]).unwrap();
    let (device, queue) = gpu.wgpu_device_queue();
    let arena_bytes: u64 = std::env::var("ARENA").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    let uniform = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: arena_bytes,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
    let make_bg = || {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: pipeline.wgpu_bind_group_layout(),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &uniform,
                        offset: 0,
                        size: std::num::NonZeroU64::new(16),
                    }),
                },
                wgpu::BindGroupEntry { binding: 1, resource: x.wgpu_buffer().as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: y.wgpu_buffer().as_entire_binding() },
            ],
        })
    };
    let fixed_bg = make_bg();
    // (name, bind group per call, parameters written per call, error scopes, spinning wait)
    let variants = [
        ("raw, prebuilt, block", false, false, false, false),
        ("raw, prebuilt, spin", false, false, false, true),
        ("raw + bind group", true, false, false, true),
        ("raw + write_buffer", false, true, false, true),
        ("raw + scopes", false, false, true, true),
        ("raw + all three", true, true, true, true),
    ]
    .map(|(name, bind_group_per_call, write_params, scopes, spin)| {
        (name, Raw { bind_group_per_call, write_params, scopes, spin })
    });
    for (name, v) in variants {
        let mut ph = Phases::default();
        for i in 0..calls + 50 {
            let t0 = Instant::now();
            let scope = v.scopes.then(|| device.push_error_scope(wgpu::ErrorFilter::Validation));
            let bg = v.bind_group_per_call.then(make_bg);
            let mut enc = device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(pipeline.wgpu_pipeline());
                pass.set_bind_group(0, bg.as_ref().unwrap_or(&fixed_bg), &[]);
                pass.dispatch_workgroups(N / 256, 1, 1);
            }
            if let Some(s) = scope {
                assert!(pollster::block_on(s.pop()).is_none());
            }
            let cb = enc.finish();
            let t1 = Instant::now();
            if v.write_params {
                queue.write_buffer(&uniform, 0, bytemuck::bytes_of(&params));
            }
            let scopes = v.scopes.then(|| {
                (
                    device.push_error_scope(wgpu::ErrorFilter::Validation),
                    device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
                )
            });
            let index = queue.submit([cb]);
            if let Some((a, b)) = scopes {
                assert!(pollster::block_on(b.pop()).is_none());
                assert!(pollster::block_on(a.pop()).is_none());
            }
            let t2 = Instant::now();
            if v.spin {
                spin_until_done(device, &index);
            } else {
                device
                    .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None })
                    .unwrap();
            }
            let t3 = Instant::now();
            if i >= 50 {
                ph.push([t0, t1, t2, t3]);
            }
        }
        ph.print(name);
    }

    immediates(calls);
}

/// The parameter block as immediate data (Vulkan push constants): no uniform buffer, no
/// write per call. Needs its own device, opened with `Features::IMMEDIATES`.
fn immediates(calls: usize) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .expect("an adapter");
    if !adapter.features().contains(wgpu::Features::IMMEDIATES) {
        println!("immediates: not offered by {}", adapter.get_info().name);
        return;
    }
    let max = adapter.limits().max_immediate_size;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_features: wgpu::Features::IMMEDIATES,
        required_limits: wgpu::Limits { max_immediate_size: max, ..Default::default() },
        ..Default::default()
    }))
    .expect("a device with immediates");
    println!("immediates: {} offers {max} bytes", adapter.get_info().name);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(
            fastpath_gpu::immediate_form(SHADER).expect("a parameter block").into(),
        ),
    });
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: None,
        entries: &[storage(1, true), storage(2, false)],
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: None,
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 16,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: Some(&layout),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let buf = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 4 * N as u64,
            usage,
            mapped_at_creation: false,
        })
    };
    let x = buf(wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST);
    let y = buf(wgpu::BufferUsages::STORAGE);
    let data: Vec<f32> = (0..N).map(|i| i as f32).collect();
    queue.write_buffer(&x, 0, bytemuck::cast_slice(&data));
    let params: [u32; 4] = [N, 2f32.to_bits(), 1f32.to_bits(), 0];
    for per_call_bind_group in [false, true] {
        let make_bg = || {
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &bgl,
                entries: &[
                    wgpu::BindGroupEntry { binding: 1, resource: x.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 2, resource: y.as_entire_binding() },
                ],
            })
        };
        let fixed = make_bg();
        let mut ph = Phases::default();
        for i in 0..calls + 50 {
            let t0 = Instant::now();
            let bg = per_call_bind_group.then(make_bg);
            let mut enc = device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, bg.as_ref().unwrap_or(&fixed), &[]);
                pass.set_immediates(0, bytemuck::bytes_of(&params));
                pass.dispatch_workgroups(N / 256, 1, 1);
            }
            let cb = enc.finish();
            let t1 = Instant::now();
            let index = queue.submit([cb]);
            let t2 = Instant::now();
            spin_until_done(&device, &index);
            let t3 = Instant::now();
            if i >= 50 {
                ph.push([t0, t1, t2, t3]);
            }
        }
        ph.print(if per_call_bind_group {
            "immediates + bind group, spin"
        } else {
            "immediates, prebuilt, spin"
        });
    }
}
