import Testing
@testable import XbarSim

struct KernelTests {
    @Test func maxAbsFindsTheLargestMagnitudeAndNaN() {
        #expect(Tensor(shape: [4], scalars: [-3, 2, 0.5, -0.0]).maxAbs == 3)
        #expect(Tensor(shape: [2], scalars: [1, -.infinity]).maxAbs == .infinity)
        #expect(Tensor(shape: [3], scalars: [1, .nan, .infinity]).maxAbs.isNaN)
        #expect(Tensor(shape: [0], scalars: []).maxAbs == 0)
        #expect(Tensor(shape: [1], scalars: [-.leastNonzeroMagnitude]).maxAbs == .leastNonzeroMagnitude)
    }

    @Test func activationsMatchTheirDefinitions() {
        // Hand-computed: hardsigmoid(x) = clamp(x + 3, 0, 6) / 6, hardswish(x) = x * hardsigmoid(x).
        #expect(Activation.hardSigmoid(-4) == 0)
        #expect(Activation.hardSigmoid(0) == 0.5)
        #expect(Activation.hardSigmoid(1.5) == 0.75)
        #expect(Activation.hardSigmoid(3) == 1)
        #expect(Activation.hardSigmoid(10) == 1)
        #expect(Activation.hardSwish(-3) == 0)
        #expect(Activation.hardSwish(-1.5) == -0.375)
        #expect(Activation.hardSwish(1) == Float(4) / 6)
        #expect(Activation.hardSwish(5) == 5)
        #expect(Activation.relu(-2) == 0 && Activation.relu(2) == 2)
        let x = Tensor(shape: [2, 1, 2, 1], scalars: [-4, -1.5, 0, 4])
        var y = x
        Kernels.activate(&y, .hardSwish, threads: 2)
        #expect(y.scalars == [0, -0.375, 0, 4])
        y = x
        Kernels.activate(&y, .hardSigmoid, threads: 1)
        #expect(y.scalars == [0, 0.25, 0.5, 1])
        y = x
        Kernels.activate(&y, .relu, threads: 1)
        #expect(y.scalars == [0, 0, 0, 4])
    }

    @Test func batchNormAsChannelAffine() {
        // gamma 2, beta 1, mean 3, var 4 - eps: y = 2 (x - 3) / 2 + 1 = x - 2.
        let bn = BatchNormParameters(gamma: [2, -1], beta: [1, 0], runningMean: [3, 0], runningVariance: [3.999, 0.999],
                                     epsilon: 0.001)
        var y = Tensor(shape: [2, 1, 2, 1], scalars: [3, 5, 2, -4])
        Kernels.channelAffine(&y, scale: bn.scale, shift: bn.shift, threads: 2)
        let expected: [Float] = [1, 3, -2, 4]
        for (a, b) in zip(y.scalars, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func broadcastMultiplyScalesEachChannelOfEachImage() {
        // [C=2, H=1, W=2, N=2]: channel 0 holds pixels (1, 2) of image 0 and (3, 4)... stored
        // [c][w][n]: c0: w0 (1, 3), w1 (2, 4); c1: w0 (5, 7), w1 (6, 8).
        let x = Tensor(shape: [2, 1, 2, 2], scalars: [1, 3, 2, 4, 5, 7, 6, 8])
        // Factors [C=2, 1, 1, N=2]: (c0: image0 10, image1 0), (c1: image0 −1, image1 0.5).
        let s = Tensor(shape: [2, 1, 1, 2], scalars: [10, 0, -1, 0.5])
        #expect(Kernels.multiply(s, x).scalars == [10, 0, 20, 0, -5, 3.5, -6, 4])
        #expect(Kernels.multiply(x, s) == Kernels.multiply(s, x))
    }

    @Test func poolingFlattenAndLinear() {
        // [C=2, H=2, W=2, N=1].
        let x = Tensor(shape: [2, 2, 2, 1], scalars: [1, 2, 3, 4, -1, -1, -1, 3])
        #expect(Kernels.globalAveragePool(x).scalars == [2.5, 0])
        // Two images in NCHW, [N=2, C=2, H=1, W=2]: image 0 = 1, 2, 5, 6; image 1 = 3, 4, 7, 8.
        let batch = Tensor(shape: [2, 2, 1, 2], scalars: [1, 2, 5, 6, 3, 4, 7, 8])
        let chwn = batch.movingFirstAxisToLast()          // [C=2, H=1, W=2, N=2]
        let f = Kernels.flatten(chwn)
        #expect(f.shape == [4, 2])
        #expect(f.scalars == [1, 3, 2, 4, 5, 7, 6, 8])     // [feature][image]
        // PyTorch's flatten(1) of each image is its NCHW values in order: image 0 (1, 2, 5, 6), image 1 (3, 4, 7, 8).
        let back = f.movingLastAxisToFirst()
        #expect(back.shape == [2, 4] && back.scalars == batch.scalars)
        // linear: W = [[1, 2], [0, -1], [3, 0]], b = [0, 1, -1], x = (1, 2) for image 0, (3, 4) image 1.
        let v = Tensor(shape: [2, 2], scalars: [1, 3, 2, 4])
        let out = Kernels.linear(v, weight: [1, 2, 0, -1, 3, 0], bias: [0, 1, -1], outFeatures: 3, threads: 1)
        #expect(out.shape == [3, 2])
        #expect(out.scalars == [5, 11, -1, -3, 2, 8])
    }

    @Test func addAndAxisSwap() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        var sum = a
        Kernels.add(&sum, a)
        #expect(sum.scalars == [2, 4, 6, 8, 10, 12])
        #expect(a.scalars == [1, 2, 3, 4, 5, 6])     // the shared operand was not modified
        let t = a.swappingFirstTwoAxes()
        #expect(t.shape == [3, 2] && t.scalars == [1, 4, 2, 5, 3, 6])
        #expect(t.swappingFirstTwoAxes() == a)
        #expect(a.movingFirstAxisToLast() == t && t.movingLastAxisToFirst() == a)
        #expect(Tensor(shape: [2], scalars: [1, .nan]).firstNonFiniteIndex == 1)
    }
}
