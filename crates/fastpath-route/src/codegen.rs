//! The MLX / PyTorch code equivalent to a workload (T7, T8 and T9's MLX stage). Each operation
//! becomes a few lines on synthetic inputs of the described shape; the user replaces them with
//! real data. Operations a framework lacks become a comment saying why.

use crate::ops::{Dtype, Operation, table_family};
use crate::ops::{Family, FftKind};

fn shape_tuple(dims: &[u64]) -> String {
    match dims {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Framework {
    Mlx,
    Torch,
}

impl Framework {
    fn array(self, dims: &[u64], dtype: Dtype) -> String {
        let shape = shape_tuple(dims);
        let integer = matches!(dtype, Dtype::I8 | Dtype::U8 | Dtype::I32 | Dtype::U32 | Dtype::I64);
        match self {
            Framework::Mlx => {
                let ty = match dtype {
                    Dtype::F16 => "mx.float16",
                    Dtype::Bf16 => "mx.bfloat16",
                    Dtype::F32 => "mx.float32",
                    Dtype::F64 => "mx.float64",
                    Dtype::I8 => "mx.int8",
                    Dtype::U8 => "mx.uint8",
                    Dtype::I32 => "mx.int32",
                    Dtype::U32 => "mx.uint32",
                    Dtype::I64 => "mx.int64",
                };
                if integer {
                    format!("mx.random.randint(0, 100, {shape}).astype({ty})")
                } else if dtype == Dtype::F32 {
                    format!("mx.random.normal({shape})")
                } else {
                    format!("mx.random.normal({shape}).astype({ty})")
                }
            }
            Framework::Torch => {
                let ty = match dtype {
                    Dtype::F16 => "torch.float16",
                    Dtype::Bf16 => "torch.bfloat16",
                    Dtype::F32 => "torch.float32",
                    Dtype::F64 => "torch.float64",
                    Dtype::I8 => "torch.int8",
                    Dtype::U8 => "torch.uint8",
                    Dtype::I32 => "torch.int32",
                    Dtype::U32 => "torch.int32",
                    Dtype::I64 => "torch.int64",
                };
                if integer {
                    format!("torch.randint(0, 100, {shape}, device=device, dtype={ty})")
                } else {
                    format!("torch.randn({shape}, device=device, dtype={ty})")
                }
            }
        }
    }

    fn int_labels(self, classes: u64, dims: &[u64]) -> String {
        match self {
            Framework::Mlx => format!("mx.random.randint(0, {classes}, {})", shape_tuple(dims)),
            Framework::Torch => {
                format!("torch.randint(0, {classes}, {}, device=device)", shape_tuple(dims))
            }
        }
    }
}

/// Lines that create the operation's inputs under the names its code template uses.
fn inputs(fw: Framework, op: &Operation) -> Vec<String> {
    let s = &op.shape;
    let t = op.dtype;
    let arr = |dims: &[u64]| fw.array(dims, t);
    let family = table_family(&op.op);
    match family {
        Some(Family::Map { inputs: 2, .. })
        | Some(Family::Reduce { inputs: 2 })
        | Some(Family::Compact { compare_first: false })
        | Some(Family::Fft { kind: FftKind::Convolution }) => {
            vec![format!("a = {}", arr(s)), format!("b = {}", arr(s))]
        }
        Some(Family::PairStatistic { .. }) if s.len() == 1 => {
            vec![format!("a = {}", arr(s)), format!("b = {}", arr(s))]
        }
        Some(Family::Map { inputs: 3, .. }) => {
            vec![format!("a = {}", arr(s)), format!("b = {}", arr(s)), format!("c = {}", arr(s))]
        }
        Some(Family::Matmul) => {
            vec![format!("a = {}", arr(&[s[0], s[1]])), format!("b = {}", arr(&[s[1], s[2]]))]
        }
        Some(Family::BatchedMatmul) => {
            vec![
                format!("a = {}", arr(&[s[0], s[1], s[2]])),
                format!("b = {}", arr(&[s[0], s[2], s[3]])),
            ]
        }
        Some(Family::Matvec) => vec![format!("a = {}", arr(s)), format!("b = {}", arr(&[s[1]]))],
        Some(Family::Outer) | Some(Family::CrossCorrelation) => {
            vec![format!("a = {}", arr(&[s[0]])), format!("b = {}", arr(&[s[1]]))]
        }
        Some(Family::Dot) => vec![format!("a = {}", arr(s)), format!("b = {}", arr(s))],
        Some(Family::Loss { class_logits: true }) => {
            let (rows, classes) = if s.len() == 2 { (s[0], s[1]) } else { (1, s[0]) };
            vec![
                format!("pred = {}", arr(&[rows, classes])),
                format!("target = {}", fw.int_labels(classes, &[rows])),
            ]
        }
        Some(Family::Loss { .. }) => {
            let target = match fw {
                Framework::Mlx => format!("mx.random.uniform(shape={})", shape_tuple(s)),
                Framework::Torch => format!("torch.rand({}, device=device)", shape_tuple(s)),
            };
            let pred = match fw {
                Framework::Mlx => format!("mx.random.uniform(shape={})", shape_tuple(s)),
                Framework::Torch => format!("torch.rand({}, device=device)", shape_tuple(s)),
            };
            vec![format!("pred = {pred}"), format!("target = {target}")]
        }
        Some(Family::Optimizer { .. }) => {
            let params = match fw {
                Framework::Mlx => format!("params = {}", arr(s)),
                Framework::Torch => format!("params = torch.nn.Parameter({})", arr(s)),
            };
            let grads = match fw {
                Framework::Mlx => format!("grads = {}", arr(s)),
                Framework::Torch => format!("params.grad = {}", arr(s)),
            };
            vec![params, grads]
        }
        Some(Family::GradClip) => vec![format!("grads = {}", arr(s))],
        Some(Family::Attention) => {
            vec![format!("q = {}", arr(s)), format!("k = {}", arr(s)), format!("v = {}", arr(s))]
        }
        Some(Family::Prng { .. }) => vec![format!("x_shape = {}", shape_tuple(s))],
        _ => vec![format!("x = {}", arr(s))],
    }
}

fn header(fw: Framework, title: &str) -> Vec<String> {
    let mut lines = vec![
        format!(
            "# {} equivalent of \"{title}\", generated by `fastpath route`.",
            if fw == Framework::Mlx { "MLX" } else { "PyTorch" }
        ),
        "# Inputs are synthetic arrays of the described shapes: replace them with your data."
            .to_string(),
        "import math".to_string(),
    ];
    match fw {
        Framework::Mlx => {
            lines.push("import mlx.core as mx".into());
            lines.push("import mlx.nn as nn".into());
            lines.push("import mlx.optimizers as optim".into());
        }
        Framework::Torch => {
            lines.push("import torch".into());
            lines.push(
                "device = torch.device(\"mps\" if torch.backends.mps.is_available() else \"cuda\" if torch.cuda.is_available() else \"cpu\")"
                    .into(),
            );
        }
    }
    lines
}

fn body(fw: Framework, ops: &[(usize, &Operation)], results: &mut Vec<String>) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, op) in ops {
        let n = i + 1;
        lines.push(String::new());
        lines.push(format!("# {n}. {}", op.describe()));
        let support = if fw == Framework::Mlx { &op.mlx } else { &op.pytorch };
        match &support.code {
            None => {
                lines.push(format!(
                    "# no {} equivalent: {}",
                    if fw == Framework::Mlx { "MLX" } else { "PyTorch" },
                    support.reason.as_deref().unwrap_or("not available")
                ));
            }
            Some(code) => {
                lines.extend(inputs(fw, op));
                let result = format!("r{n}");
                if op.repeat > 1 {
                    lines.push(format!("for _ in range({}):", op.repeat));
                    lines.push(format!("    {result} = {code}"));
                    if fw == Framework::Mlx {
                        lines.push(format!("    mx.eval({result})"));
                    }
                } else {
                    lines.push(format!("{result} = {code}"));
                }
                results.push(result);
            }
        }
    }
    lines
}

/// A complete MLX script for the operations.
pub fn mlx_script(title: &str, ops: &[Operation]) -> String {
    let indexed: Vec<(usize, &Operation)> = ops.iter().enumerate().collect();
    let mut results = Vec::new();
    let mut lines = header(Framework::Mlx, title);
    lines.extend(body(Framework::Mlx, &indexed, &mut results));
    lines.push(String::new());
    if !results.is_empty() {
        lines.push(format!(
            "mx.eval({})  # MLX is lazy: the whole graph runs here",
            results.join(", ")
        ));
    }
    lines.join("\n") + "\n"
}

/// A complete PyTorch script (MPS on Apple silicon, CUDA or CPU elsewhere).
pub fn pytorch_script(title: &str, ops: &[Operation]) -> String {
    let indexed: Vec<(usize, &Operation)> = ops.iter().enumerate().collect();
    let mut results = Vec::new();
    let mut lines = header(Framework::Torch, title);
    lines.extend(body(Framework::Torch, &indexed, &mut results));
    lines.push(String::new());
    lines.push("if device.type == \"mps\":".into());
    lines.push("    torch.mps.synchronize()  # time only after the GPU is done".into());
    lines.push("elif device.type == \"cuda\":".into());
    lines.push("    torch.cuda.synchronize()".into());
    lines.join("\n") + "\n"
}

/// T9's MLX stage: the leading MLX operations, then the hand-off of the last result to
/// fastpath's kernels through a .npy file (the seed's "export to buffer for custom pipeline").
pub fn hybrid_mlx_stage(title: &str, ops: &[Operation], stage_len: usize) -> String {
    let indexed: Vec<(usize, &Operation)> = ops.iter().enumerate().take(stage_len).collect();
    let mut results = Vec::new();
    let mut lines = header(Framework::Mlx, title);
    lines.push("import numpy as np".into());
    lines.extend(body(Framework::Mlx, &indexed, &mut results));
    lines.push(String::new());
    if let Some(last) = results.last() {
        lines.push(format!("mx.eval({})", results.join(", ")));
        lines.push(
            "# Hand-off: the custom stage reads this file with fastpath's GPU kernels.".into(),
        );
        lines.push(format!("np.save(\"mlx_stage_output.npy\", np.array({last}))"));
    }
    let custom: Vec<String> = ops[stage_len..]
        .iter()
        .map(|o| format!("#   {} -> {}", o.describe(), o.kernel_route))
        .collect();
    if !custom.is_empty() {
        lines.push(
            "# Custom stage (fastpath GPU kernels, `fastpath run` or `fastpath run-kernel`):"
                .into(),
        );
        lines.extend(custom);
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{OperationSpec, ParamValue};

    fn op(spec: OperationSpec) -> Operation {
        Operation::from_spec(&spec, 0).unwrap()
    }

    #[test]
    fn mlx_script_calls_the_mlx_functions_on_inputs_of_the_right_shape() {
        let ops = vec![
            op(OperationSpec::new("sort", &[10_000_000])),
            op(OperationSpec::new("matmul", &[64, 768, 1000])),
        ];
        let code = mlx_script("demo", &ops);
        assert!(code.contains("x = mx.random.normal((10000000,))\nr1 = mx.sort(x)"), "{code}");
        assert!(code.contains("a = mx.random.normal((64, 768))\nb = mx.random.normal((768, 1000))\nr2 = mx.matmul(a, b)"), "{code}");
        assert!(
            code.trim_end().ends_with("mx.eval(r1, r2)  # MLX is lazy: the whole graph runs here"),
            "{code}"
        );
    }

    #[test]
    fn missing_operations_become_comments_with_the_reason() {
        let code = mlx_script("demo", &[op(OperationSpec::new("histogram", &[100]))]);
        assert!(code.contains("# no MLX equivalent: no histogram/bincount in MLX"), "{code}");
        assert!(!code.contains("mx.eval("), "{code}");
    }

    #[test]
    fn hybrid_stage_hands_off_and_lists_the_custom_kernels() {
        let ops = vec![
            op(OperationSpec::new("matmul", &[64, 768, 1000])),
            op(OperationSpec::new("filter_threshold", &[64_000])),
            op(OperationSpec::new("top_k", &[64_000]).with_param("k", ParamValue::Number(100.0))),
        ];
        let code = hybrid_mlx_stage("search", &ops, 1);
        assert!(code.contains("r1 = mx.matmul(a, b)"));
        assert!(code.contains("np.save(\"mlx_stage_output.npy\", np.array(r1))"));
        assert!(
            code.contains("#   filter_threshold [64000] f32 -> MAP_COMPARE -> COMPACT_MASK"),
            "{code}"
        );
        assert!(code.contains("#   top_k [64000] f32 k=100 -> TOPK_SELECT"), "{code}");
    }

    #[test]
    fn pytorch_script_picks_a_device_and_synchronizes() {
        let code = pytorch_script("demo", &[op(OperationSpec::new("softmax", &[32, 1024]))]);
        assert!(code.contains("x = torch.randn((32, 1024), device=device, dtype=torch.float32)\nr1 = torch.softmax(x, dim=-1)"), "{code}");
        assert!(code.contains("torch.mps.synchronize()"));
    }
}
