import XbarSimTensor

/// Where the weights came from, as recorded by the exporter.
public struct Provenance: Sendable, Equatable, Codable {
    public var trainingCommand: String
    public var trainingEpochs: Int
    public var trainingSeed: Int
    public var trainingWallSeconds: Double
    public var trainingHardware: String
    /// Top-1 accuracy (0...1) of the float model on the full test set, measured at export; nil if unknown.
    public var floatTestAccuracy: Double?
    public var exporter: String
    /// Noise injected during hardware-aware training (`Weights/hwa.py`), as JSON; empty for
    /// a float-trained model.
    public var trainingNoise: String

    public init(trainingCommand: String = "", trainingEpochs: Int = -1, trainingSeed: Int = -1,
                trainingWallSeconds: Double = -1, trainingHardware: String = "",
                floatTestAccuracy: Double? = nil, exporter: String = "", trainingNoise: String = "") {
        self.trainingCommand = trainingCommand
        self.trainingEpochs = trainingEpochs
        self.trainingSeed = trainingSeed
        self.trainingWallSeconds = trainingWallSeconds
        self.trainingHardware = trainingHardware
        self.floatTestAccuracy = floatTestAccuracy
        self.exporter = exporter
        self.trainingNoise = trainingNoise
    }
}

/// File-level facts about a model.
public struct ModelMetadata: Sendable, Equatable {
    public var formatVersion: Int
    public var architecture: String
    /// `[C, H, W]` of one input image.
    public var inputShape: [Int]
    /// Per-channel normalisation applied to pixels scaled to 0...1: `(p - mean) / std`.
    public var normalizationMean: [Float]
    public var normalizationStd: [Float]
    public var classNames: [String]
    public var provenance: Provenance

    public init(formatVersion: Int = ModelFile.formatVersion, architecture: String, inputShape: [Int],
                normalizationMean: [Float], normalizationStd: [Float], classNames: [String],
                provenance: Provenance = Provenance()) {
        self.formatVersion = formatVersion
        self.architecture = architecture
        self.inputShape = inputShape
        self.normalizationMean = normalizationMean
        self.normalizationStd = normalizationStd
        self.classNames = classNames
        self.provenance = provenance
    }
}

/// PyTorch's float outputs stored with the model, for self-checks.
public struct GoldenData: Sendable, Equatable {
    /// Indices in `test_batch.bin` of the golden images.
    public var testIndices: [Int]
    public var labels: [Int]
    /// Logits, `[images, classes]` row-major (PyTorch's layout).
    public var logits: Tensor
    /// Index in `test_batch.bin` of the image whose per-op outputs are stored.
    public var opImageIndex: Int
    /// Output of each op for that image, batch dimension dropped (`[C, H, W]` or `[F]`); nil where not stored.
    public var opOutputs: [Tensor?]

    public init(testIndices: [Int], labels: [Int], logits: Tensor, opImageIndex: Int, opOutputs: [Tensor?]) {
        self.testIndices = testIndices
        self.labels = labels
        self.logits = logits
        self.opImageIndex = opImageIndex
        self.opOutputs = opOutputs
    }
}

/// A network loaded from an XbarSim model file (see `Weights/FORMAT.md`).
public struct Model: Sendable, Equatable {
    public var path: String
    public var metadata: ModelMetadata
    public var graph: Graph
    public var golden: GoldenData?
    /// Whether the file's checksum was verified when it was loaded.
    public var integrity: ModelIntegrity = .unchecked

    public init(path: String, metadata: ModelMetadata, graph: Graph, golden: GoldenData? = nil) {
        self.path = path
        self.metadata = metadata
        self.graph = graph
        self.golden = golden
    }
}
