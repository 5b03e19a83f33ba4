// Package metrics scores generated text and predicted labels.
//
// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum follow Google's rouge-score
// package (rouge_scorer.py, tokenize.py, scoring.py), itself compatible
// with ROUGE-1.5.5: text is lowercased, every run of characters outside
// [a-z0-9] separates tokens, tokens longer than 3 characters are optionally
// Porter-stemmed (nltk's PorterStemmer in its default NLTK_EXTENSIONS mode,
// which rouge-score uses), ROUGE-Lsum splits on newlines and uses the
// union LCS without double counting, and several references keep, per
// ROUGE type, the score of the reference with the highest F-measure.
//
// Accuracy and MacroF1 score class labels.
package metrics
