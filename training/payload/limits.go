package payload

// Caps on every count and length of the encoding. A decoder checks each one, and the bytes that remain,
// before it allocates.
const (
	Version = 1 // the encoding version this build writes and reads

	MaxIDLen              = 255     // run id, edge id, sample ids, modality and metric names (bytes)
	MaxTensorName         = 1024    // tensor names (bytes)
	MaxTensors            = 1 << 16 // tensors per payload
	MaxRank               = 8       // dimensions per tensor
	MaxElems              = 1 << 30 // values per tensor
	MaxModalities         = 64      // modalities per update
	MaxReps               = 1 << 22 // fused representations (public samples) per payload
	MaxRepDim             = 1 << 16 // width d_f of a fused representation
	MaxPredictions        = 1 << 22 // predictions per update
	MaxPredTokens         = 4096    // tokens per prediction
	MaxPredText           = 1 << 16 // bytes per text prediction
	MaxToken              = 1<<31 - 1
	MaxMetrics            = 1024    // metrics per update
	MaxTopK               = 256     // tokens per position of a knowledge distribution
	MaxKnowledgePositions = 4096    // target positions per sample of a knowledge distribution
	MaxSamples            = 1 << 48 // declared sample count
	MaxPayloadBytes       = 1 << 36 // the largest maxBytes a decoder accepts (64 GiB)
)

var (
	magicUpdate = [4]byte{'M', 'L', 'E', 'U'}
	magicGlobal = [4]byte{'M', 'L', 'E', 'G'}
)
