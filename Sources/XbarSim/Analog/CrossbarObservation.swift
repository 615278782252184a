import XbarSimTensor

/// What one crossbar op of an analog run saw: the hook energy accounting uses to get
/// the actual voltages of a run (`AnalogChip.run(_:firstImage:threads:observe:)`).
///
/// `input` is the `[C, H, W, N]` batch the crossbar's rows are driven with, in signal
/// units (volts = units · `AnalogChip.voltsPerUnit`), *before* the input DAC of
/// digitized mode (`ranges.inputRange` gives that DAC's full scale); `output` is what
/// the op-amps produced (after rails and, in digitized mode, the ADC).
public struct CrossbarObservation {
    /// Index of the op in the graph.
    public var stage: Int
    /// 0: the op's crossbar; 1 and 2: the subtract and scale stages of a batch-norm module.
    public var part: Int
    public var layer: CrossbarLayer
    public var input: Tensor
    public var output: Tensor
    public var ranges: SignalRanges
}
