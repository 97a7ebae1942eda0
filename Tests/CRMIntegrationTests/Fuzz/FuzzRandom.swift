/// SplitMix64: small, fast and fully determined by its seed, so a seed
/// printed by a failing fuzz run replays the same inputs.
struct FuzzRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// Integers where conversions and arithmetic break: zero, ones, sign and
    /// width boundaries, and now and then anything at all.
    mutating func edgeInteger() -> UInt64 {
        let edges: [UInt64] = [0, 1, 2, 7, 100, 500, 501, 1000, 65_535, 65_536, 1 << 31, (1 << 31) - 1,
                               (1 << 32) - 1, 1 << 32, 4_294_968, 1 << 53, (1 << 63) - 1, 1 << 63,
                               UInt64.max - 1, UInt64.max, UInt64(bitPattern: -1000), UInt64(bitPattern: -2)]
        return chance(80) ? pick(edges) : next()
    }
}

/// Changes a valid encoding the way a broken or hostile client would.
enum FuzzMutation {
    static func mutate(_ input: [UInt8], _ random: inout FuzzRandom) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let i = Int.random(in: 0..<bytes.count, using: &random)
                bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &random)
            case 1 where !bytes.isEmpty:  // truncate
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
            case 2:  // insert random bytes
                let i = Int.random(in: 0...bytes.count, using: &random)
                bytes.insert(contentsOf: random.bytes(Int.random(in: 1...8, using: &random)), at: i)
            case 3 where !bytes.isEmpty:  // set a byte to a boundary value
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = random.pick([0x00, 0x7f, 0x80, 0xff])
            case 4 where bytes.count > 1:  // repeat a slice (duplicate fields, runaway lengths)
                let start = Int.random(in: 0..<bytes.count, using: &random)
                let end = Int.random(in: start...bytes.count, using: &random)
                bytes.insert(contentsOf: bytes[start..<end], at: end)
            default:  // a field of a random number and wire type
                bytes += [UInt8.random(in: 0...255, using: &random)] + random.bytes(Int.random(in: 0...9, using: &random))
            }
        }
        return bytes
    }
}
