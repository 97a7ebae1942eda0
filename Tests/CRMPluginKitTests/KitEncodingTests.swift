import CRMPluginKit
import Foundation
import Testing

/// The kit's SHA-256 (request fingerprints) and the update mask's reading
/// of which fields a protobuf message sets.
@Suite struct KitEncodingTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256MatchesTheFIPSVectors(_ input: String, _ digest: String) {
        #expect(SHA256.hash(Array(input.utf8)).map { String(format: "%02x", $0) }.joined() == digest)
    }

    @Test func sha256OfAMillionAs() {
        let digest = SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(digest.map { String(format: "%02x", $0) }.joined()
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func fieldNumbersReadsEveryWireType() {
        // 1: varint 150, 2: "hi", 3: fixed64, 4: fixed32, 16: varint 1 (two-byte tag)
        let bytes: [UInt8] = [0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69, 0x19] + Array(repeating: 0, count: 8)
            + [0x25, 0, 0, 0, 0, 0x80, 0x01, 0x01]
        #expect(UpdateMask.fieldNumbers(bytes) == [1, 2, 3, 4, 16])
        #expect(UpdateMask.fieldNumbers([0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) == [2], "a length past the end stops")
        #expect(UpdateMask.fieldNumbers([0x08]) == [1] && UpdateMask.fieldNumbers([]).isEmpty)
    }

    @Test func lowerCamelCaseIsProtoJSONs() {
        #expect(UpdateMask.lowerCamelCase("job_title") == "jobTitle")
        #expect(UpdateMask.lowerCamelCase("expected_close_date") == "expectedCloseDate")
        #expect(UpdateMask.lowerCamelCase("notes") == "notes")
    }
}
