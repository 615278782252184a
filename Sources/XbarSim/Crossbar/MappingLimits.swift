import XbarSimDevice

extension MappedCrossbar {
    /// The most bias rows one crossbar may need (`map` splits a bias over `⌈max|b|·s / span⌉`
    /// rows). Beyond it the scaling, the window or the model's biases are absurd, and the rows
    /// would size an allocation of `outputs x (inputs + biasRows)` devices.
    public static let maximumBiasRows = 65_536

    /// Throws when mapping `m` would need more than `maximumBiasRows` bias rows, or meets a
    /// non-finite weight or bias, instead of trapping in the row count's conversion to `Int` or
    /// asking the allocator for an enormous crossbar. `name` names the op in the message.
    public static func checkMappable(
        _ m: CrossbarMatrix, scheme: MappingScheme, scaling: WeightScaling, window: ConductanceWindow,
        headroom: Double = 0, name: String
    ) throws {
        let (gMin, gMax) = (window.gMinSiemens, window.gMaxSiemens)
        let span = (scheme == .paper ? gMax : gMax - gMin) / (1 + headroom)
        var layerMax = 0.0
        var columnMax = [Double](repeating: 0, count: m.outputs)
        for o in 0..<m.outputs {
            var largest = 0.0
            for i in 0..<m.inputs {
                let w = Double(m.weights[o * m.inputs + i])
                guard w.isFinite else {
                    throw DeviceParameterError(parameter: name, message: "weight (\(o), \(i)) is \(w): the model holds a non-finite weight")
                }
                largest = max(largest, abs(w))
            }
            columnMax[o] = largest
            layerMax = max(layerMax, largest)
        }
        guard let bias = m.bias else { return }
        for o in 0..<m.outputs {
            let b = Double(abs(bias[o]))
            guard b.isFinite else {
                throw DeviceParameterError(parameter: name, message: "bias \(o) is \(bias[o]): the model holds a non-finite bias")
            }
            guard b != 0 else { continue }
            let scale: Double
            switch scaling {
            case .fixed(let s): scale = s
            case .perLayer: scale = layerMax > 0 ? span / layerMax : span
            case .perColumn: scale = columnMax[o] > 0 ? span / columnMax[o] : (layerMax > 0 ? span / layerMax : span)
            }
            let rows = b * scale / span
            guard rows.isFinite, rows <= Double(maximumBiasRows) else {
                let why: String
                if case .fixed = scaling {
                    why = "lower --scaling or widen the conductance window"
                } else {
                    why = "its bias is \(bias[o]) against a largest weight of \(scheme == .paper ? columnMax[o] : layerMax)"
                }
                throw DeviceParameterError(
                    parameter: name,
                    message: "output \(o) would need \(rows < 1e15 ? String(Int64(rows.rounded(.up))) : "\(rows)") bias rows "
                        + "of devices (at most \(maximumBiasRows)): \(why)")
            }
        }
    }
}
