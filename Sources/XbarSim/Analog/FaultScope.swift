/// Which crossbars of the network get stuck-at faults (a study tool: the rest are
/// programmed without them, all other non-idealities unchanged).
///
/// - `all`: every crossbar (the physical default).
/// - `weights`: the layers' weight crossbars (convolutions, fully connected, GAP).
/// - `batchnorm`: only the BN module's subtract and scale stages, where each channel's
///   signal passes a single device per stage.
public enum FaultScope: String, Sendable, Hashable, Codable, CaseIterable {
    case all
    case weights
    case batchnorm

    /// Whether a crossbar of this kind gets faults.
    public func includes(batchNormStage: Bool) -> Bool {
        switch self {
        case .all: true
        case .weights: !batchNormStage
        case .batchnorm: batchNormStage
        }
    }
}
