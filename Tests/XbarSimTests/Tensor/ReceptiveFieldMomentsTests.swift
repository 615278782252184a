import Testing
@testable import XbarSim

/// Receptive-field moments against hand loops over every output position and image.
struct ReceptiveFieldMomentsTests {
    @Test(arguments: [1, 2])
    func momentsMatchLoopsOverEveryRead(groups: Int) throws {
        // 4 channels of 5x4, 3x2 kernel, stride 2, padding 1: windows that leave the map.
        let g = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 2), stride: (2, 2), padding: (1, 1),
                               groups: groups, input: (5, 4))
        let n = 3
        var values = TestValues(seed: 31)
        let x = Tensor(shape: [4, 5, 4, n], scalars: values.array(4 * 5 * 4 * n))
        let rows = 1..<(g.fanIn - 1)
        for group in 0..<groups {
            let m = Kernels.receptiveFieldMoments(x, geometry: g, group: group, rows: rows, threads: 2)
            let k = rows.count
            var sums = [Double](repeating: 0, count: k)
            var gram = [Double](repeating: 0, count: k * k)
            var reads = 0
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for image in 0..<n {
                        reads += 1
                        let v = rows.map { r -> Double in
                            let (ci, ky, kx) = (r / 6, (r / 2) % 3, r % 2)
                            let (iy, ix) = (oy * 2 - 1 + ky, ox * 2 - 1 + kx)
                            guard (0..<5).contains(iy), (0..<4).contains(ix) else { return 0 }
                            let c = group * g.channelsPerGroup + ci
                            return Double(x.scalars[((c * 5 + iy) * 4 + ix) * n + image])
                        }
                        for i in 0..<k {
                            sums[i] += v[i]
                            for j in 0..<k { gram[i * k + j] += v[i] * v[j] }
                        }
                    }
                }
            }
            #expect(m.reads == reads && m.rows == rows)
            for i in 0..<k { #expect(abs(m.sums[i] - sums[i]) <= 1e-12 * Double(reads)) }
            for i in 0..<(k * k) { #expect(abs(m.gram[i] - gram[i]) <= 1e-12 * Double(reads)) }
        }
    }

    @Test func noRowsStillCountsTheReads() {
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (1, 1), input: (2, 3))
        let m = Kernels.receptiveFieldMoments(Tensor(shape: [1, 2, 3, 2], scalars: [Float](repeating: 1, count: 12)),
                                              geometry: g, group: 0, rows: 1..<1, threads: 1)
        #expect(m.reads == 12 && m.sums.isEmpty && m.gram.isEmpty)
    }
}
