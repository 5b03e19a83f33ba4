// Package nn holds the numerical operators of mlecs in the style of llm.c
// (train_gpt2.c): one function per op and direction, shapes in comments,
// buffers owned and allocated once by the caller.
//
// Conventions shared by every op:
//   - All ops are generic over Float, so training runs in float32 and gradient
//     checks run the very same code in float64.
//   - Tensors are flat row-major slices; shapes are given in the comments,
//     e.g. inp [N,C] means len >= N*C with element (n,c) at n*C+c.
//   - Linear weights use the PyTorch layout [OC,C]: out = inp @ W^T + b.
//   - Backward functions ACCUMULATE (+=) into gradient buffers, which the
//     caller zeroes; a nil gradient slice means "do not compute it". Buffers
//     documented as "scratch" are overwritten instead.
//   - A *Pool spreads the work over a fixed set of goroutines; a nil *Pool
//     runs everything on the calling goroutine. Steady-state calls do not
//     allocate.
//   - Shape mismatches are programming errors and panic like an index out of
//     range; data-dependent inputs (token ids, targets) are checked and
//     reported as errors wrapping ErrIndex.
package nn
