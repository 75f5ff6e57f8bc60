// Package model trains and serves the models of fstore: small feed-forward
// networks (logistic or linear regression, or a ReLU MLP) over the numeric
// features of a backfill training set.
//
// The pieces, in the order a model lives through them:
//
//   - ReadDataset reads a backfill output Parquet file into a Dataset: the
//     "<view>__<feature>" columns as a float32 matrix (null → NaN) and the
//     label (bool → 0/1), rows with a null label dropped and counted.
//   - Train holds out a seeded fraction of the rows, learns the input
//     normalisation on the rest, and fits the network with a gorgonia
//     autodiff graph (Mul, BroadcastAdd, Rectify; sigmoid + binary
//     cross-entropy or squared error; Adam) on shuffled mini-batches. It
//     returns the Model and Metrics measured on the held-out rows.
//   - MarshalBinary / Unmarshal, Save / Load move a Model as a small,
//     versioned, checksummed artifact; artifact.go documents the format.
//   - An Engine serves a Model: batched float32 inference on gorgonia
//     tensors, safe for concurrent use.
//
// Invariants:
//   - a Model is immutable once built by Train or Unmarshal; Engines, the
//     encoder and callers share its slices and never write to them;
//   - the normalisation z = (x - Mean) / Scale, with a missing input (NaN)
//     becoming 0, has one implementation (normalize), used by training and
//     by the Engine, so a model sees bit-identical inputs in both;
//   - the Engine computes what the training graph computes: its outputs
//     equal the graph's forward pass with the same weights within float32
//     rounding (tested to 1e-5), and each row's prediction is independent
//     of the other rows in its batch, bit for bit;
//   - Engine.Predict builds no graph and, once warm, allocates nothing: each
//     call borrows a runner of preallocated tensors, one set per batch-size
//     class, from a bounded pool that the GC does not empty;
//   - Train is deterministic: the same Dataset, TrainConfig and Seed give a
//     bit-identical Model, hence identical artifact bytes;
//   - Unmarshal never panics and never allocates more than a small multiple
//     of its input's length, whatever the header claims; every decoded
//     Model passes Validate.
//
// Errors match ErrInput (training data and configuration), ErrArtifact
// (model artifacts) or ErrShape (Predict buffers) and name what is wrong.
package model
