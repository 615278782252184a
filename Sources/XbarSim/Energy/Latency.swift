import XbarSimGraph

/// Latency of one image and time between images, from the per-op stage times.
///
/// Every op starts when all its inputs are complete and is busy `steps · stageSeconds`
/// (`LayerResources.busySeconds`), so the latency is the longest path through the graph:
///
///     finish(input) = input DAC time,   finish(op) = max_{inputs} finish + busy(op),
///     latency = finish(output op)
///
/// Layer by layer, the next image enters when the previous one has left (interval =
/// latency); pipelined, a new image enters every `max(input DAC, max_op busy(op))`.
public enum Latency {
    /// Longest path through `graph`, seconds.
    public static func latencySeconds(graph: Graph, layers: [LayerResources], inputSeconds: Double) -> Double {
        precondition(layers.count == graph.ops.count)
        var finish = [Double](repeating: 0, count: graph.ops.count + 1)
        finish[0] = inputSeconds
        for (i, op) in graph.ops.enumerated() {
            let start = op.inputs.map { finish[$0] }.max() ?? 0
            finish[i + 1] = start + layers[i].busySeconds
        }
        return finish[graph.outputIndex + 1]
    }

    /// Seconds between successive images.
    public static func intervalSeconds(
        layers: [LayerResources], schedule: Schedule, latencySeconds: Double, inputSeconds: Double
    ) -> Double {
        switch schedule {
        case .layerByLayer: latencySeconds
        case .pipelined: max(inputSeconds, layers.map(\.busySeconds).max() ?? 0)
        }
    }
}
