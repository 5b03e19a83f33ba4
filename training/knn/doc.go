// Package knn is the nearest-neighbour baseline that learned models are compared with: every test sample of
// an mlecs-dataset/1 dataset is answered with the first target text and the label of its nearest train
// sample, and scored as `mlecs eval` scores a model (training/metrics).
//
// Inputs are featurised as the models see them (dataset.Featurizer, with statistics fitted on the train
// split). The distance of a test sample to a train sample is computed per modality:
//
//   - image, audio, timeseries: Euclidean distance of the featurised tensors;
//   - text: cosine distance (1 - cosine similarity) of tf-idf vectors over word tokens (lowercased runs of
//     Unicode letters and digits), idf fitted on the train split as ln((1+N)/(1+df)) + 1 (scikit-learn's
//     smooth idf), raw term counts, L2-normalised; words never seen in training are dropped, and a text
//     left with no known word is at distance 1 from every text.
//
// Modalities are put on one scale by dividing each one's distances by its mean over all train-test pairs
// that hold it, so that each weighs equally, and the scaled distances of the modalities a pair shares are
// summed. A modality either side lacks is skipped; a pair sharing none is at +Inf, and a test sample at +Inf
// from every train sample gets an empty prediction and no label. Ties go to the lowest train index (file
// order of the train split).
package knn
