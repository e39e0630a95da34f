/// Named float32 vectors and a step counter: how training state (weights, optimiser moments)
/// travels between workers and the broker, which averages packs without knowing the model.
///
/// ```
/// [magic "RPK1"][step u64][count u32]
///   count × ([name length u16][name UTF-8][length u64][length × f32 LE])
/// ```
public struct ParameterPack: Sendable, Equatable {
    /// One named vector.
    public struct Vector: Sendable, Equatable {
        /// Its name, such as `weights` or `adam.m`.
        public var name: String
        /// Its values.
        public var values: [Float]

        /// Creates a vector.
        public init(name: String, values: [Float]) {
            self.name = name
            self.values = values
        }
    }

    /// The magic that starts every pack.
    public static let magic: [UInt8] = Array("RPK1".utf8)

    /// The optimiser step the state has reached.
    public var step: UInt64

    /// The largest step a pack may carry (2^53): far past any training run, and far enough below `Int.max` that
    /// the optimiser's step counter cannot overflow however many steps follow.
    public static let maximumStep: UInt64 = 1 << 53
    /// The vectors, in a fixed order.
    public var vectors: [Vector]

    /// Creates a pack.
    public init(step: UInt64, vectors: [Vector]) {
        self.step = step
        self.vectors = vectors
    }

    /// The vector named `name`, if present.
    public subscript(name: String) -> [Float]? { vectors.first { $0.name == name }?.values }

    /// Encodes the pack.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + vectors.reduce(0) { $0 + 12 + $1.name.utf8.count + 4 * $1.values.count })
        writer.append(Self.magic)
        writer.append(step)
        writer.append(UInt32(vectors.count))
        for vector in vectors {
            let name = Array(vector.name.utf8)
            writer.append(UInt16(name.count))
            writer.append(name)
            writer.append(UInt64(vector.values.count))
            vector.values.withUnsafeBytes { writer.bytes.append(contentsOf: $0) }
        }
        return writer.bytes
    }

    /// Decodes a pack.
    /// - Throws: ``WireError/badPack(_:)`` naming what is wrong (a step past ``maximumStep`` too).
    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Self.magic else {
            throw .badPack("\(bytes.count) bytes that do not start with the pack magic RPK1")
        }
        guard bytes.count >= 16 else { throw .badPack("\(bytes.count) bytes, shorter than a pack's 16-byte head") }
        var reader = ByteReader(bytes, offset: 4)
        step = reader.read()
        guard step <= Self.maximumStep else {
            throw .badPack("parameter pack step \(step) is past the largest a pack may carry (2^53)")
        }
        let count = Int(reader.read(UInt32.self))
        var vectors: [Vector] = []
        // A name is a vector's identity: a second one under it was dropped by every reader (which takes the first).
        var names = Set<String>()
        for index in 0..<count {
            guard reader.remaining >= 2 else { throw .badPack("parameter pack truncated at vector \(index)") }
            let nameLength = Int(reader.read(UInt16.self))
            guard reader.remaining >= nameLength + 8 else { throw .badPack("parameter pack truncated at vector \(index)") }
            let name = String(decoding: bytes[reader.offset..<(reader.offset + nameLength)], as: UTF8.self)
            guard names.insert(name).inserted else { throw .badPack("vector \(name) appears twice in the parameter pack") }
            reader.offset += nameLength
            let length = reader.read(UInt64.self)
            guard length <= UInt64(reader.remaining / 4) else { throw .badPack("vector \(name) is truncated") }
            let n = Int(length)
            var values = [Float](repeating: 0, count: n)
            values.withUnsafeMutableBytes { target in
                bytes.withUnsafeBytes { source in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[reader.offset..<(reader.offset + 4 * n)]))
                }
            }
            reader.offset += 4 * n
            vectors.append(Vector(name: name, values: values))
        }
        guard reader.remaining == 0 else { throw .badPack("\(reader.remaining) bytes after the last vector") }
        self.vectors = vectors
    }

    /// The sample-weighted mean of packs with the same layout (FedAvg / local SGD averaging).
    ///
    /// Accumulates in Double, so averaging a single pack returns it bit for bit. The step is the
    /// largest among the packs.
    /// - Throws: ``WireError/badPack(_:)`` when the packs' layouts differ, a weight is negative or not finite, no
    ///   weight is positive, or a pack holds a value that is not finite (a diverged replica's).
    public static func weightedMean(_ packs: [(pack: ParameterPack, weight: Double)]) throws(WireError) -> ParameterPack {
        guard let first = packs.first else { throw .badPack("nothing to average") }
        guard packs.allSatisfy({ $0.weight.isFinite && $0.weight >= 0 }) else {
            throw .badPack("a weight is negative or not finite")
        }
        let total = packs.reduce(0) { $0 + $1.weight }
        guard total > 0, total.isFinite else { throw .badPack("the replicas reported no samples") }
        for (pack, _) in packs {
            if let vector = pack.vectors.first(where: { !$0.values.allSatisfy(\.isFinite) }) {
                throw .badPack("\(vector.name) holds a value that is not finite")
            }
        }
        if packs.count == 1 { return first.pack }
        // Every replica's vectors are averaged: one the first pack does not have would be dropped unread (and one
        // only the first has would pass with the others' missing), so the packs must name the same vectors.
        let names = first.pack.vectors.map(\.name)
        if let other = packs.first(where: { $0.pack.vectors.map(\.name) != names }) {
            throw .badPack(
                "replicas disagree on the vectors of the state: \(names.joined(separator: ", ")) against "
                    + other.pack.vectors.map(\.name).joined(separator: ", "))
        }
        var vectors: [Vector] = []
        for (index, vector) in first.pack.vectors.enumerated() {
            var sums = [Double](repeating: 0, count: vector.values.count)
            for (pack, weight) in packs {
                guard index < pack.vectors.count, pack.vectors[index].name == vector.name,
                    pack.vectors[index].values.count == vector.values.count
                else { throw .badPack("replicas disagree on the layout of \(vector.name)") }
                let values = pack.vectors[index].values
                for i in sums.indices { sums[i] += Double(values[i]) * weight }
            }
            vectors.append(Vector(name: vector.name, values: sums.map { Float($0 / total) }))
        }
        return ParameterPack(step: packs.map(\.pack.step).max() ?? 0, vectors: vectors)
    }
}
