import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// A record with a rowid; the id lives in the row, not in the stored blob.
protocol IdentifiedRecord: Message {
    var id: Int64 { get set }
}

/// A record that can be merged into another of its kind.
protocol MergeableRecord: IdentifiedRecord {
    var version: Int64 { get set }
    var updatedUnixUs: Int64 { get set }
    var deletedUnixUs: Int64 { get set }
    var mergedIntoID: Int64 { get set }
}

extension Crm_Contacts_V1_Person: MergeableRecord {}
extension Crm_Contacts_V1_Organization: MergeableRecord {}

/// The survivor gets a new version; the merged record points at it and
/// leaves lists and searches, but stays readable.
func stampMerge<Record: MergeableRecord>(_ survivor: inout Record, _ merged: inout Record, at now: Int64) {
    survivor.version += 1
    survivor.updatedUnixUs = now
    merged.mergedIntoID = survivor.id
    merged.deletedUnixUs = now
    merged.version += 1
}

/// Reads and writes one kind of record kept as a protobuf blob plus index
/// columns. `columns` are the index columns' names and values for a record.
struct RecordTable<Record: IdentifiedRecord> {
    let db: Database
    let table: String
    let entity: EntityKind
    let noun: String  // for messages: "person", "organization"

    /// The record whatever its owner: for the module's own lookups, and for
    /// writes, which check the owner themselves (PERMISSION_DENIED, not NOT_FOUND).
    func load(_ id: Int64) throws -> Record? {
        try loadSerialized(id, scope: .everything).map { try Record(serializedBytes: $0) }
    }

    /// The record as the API serializes it, without decoding the blob:
    /// its id (field 1) in front of the stored bytes, which never hold one
    /// (`insert` and `save` clear it), so the two parse as one message.
    /// A record out of `scope` is nil, as a missing one is: the scope is in
    /// the SQL, so a reader cannot tell the two apart.
    func loadSerialized(_ id: Int64, scope: RecordScope) throws -> [UInt8]? {
        let inScope = scope.condition(ownerColumn: "owner")
        guard id > 0, let data = try db.query("SELECT data FROM \(table) WHERE id = ? AND \(inScope.sql)",
                                              [.integer(id)] + inScope.parameters).first?.first?.bytes else {
            return nil
        }
        var out: [UInt8] = [0x08]  // field 1, varint
        out.reserveCapacity(11 + data.count)
        var value = UInt64(id)
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        out.append(contentsOf: data)
        return out
    }

    /// The record's bytes (see `loadSerialized`), or NOT_FOUND naming
    /// `field`, also when it is out of `scope`.
    func requireSerialized(_ id: Int64, field: String, scope: RecordScope) throws -> [UInt8] {
        try Validate.positiveID(id, field)
        guard let bytes = try loadSerialized(id, scope: scope) else { throw notFound(id, field: field) }
        return bytes
    }

    /// The record, or NOT_FOUND naming `field` (also out of `scope`).
    func require(_ id: Int64, field: String, scope: RecordScope) throws -> Record {
        try Record(serializedBytes: requireSerialized(id, field: field, scope: scope))
    }

    /// What a missing record is answered with; an out-of-scope read gets the same.
    func notFound(_ id: Int64, field: String) -> PluginError {
        PluginError.notFound("\(field): \(noun) \(id) does not exist")
    }

    /// Inserts the record in one statement and sets its id.
    func insert(_ record: inout Record, columns: [(String, SQLValue)]) throws {
        let names = (["data"] + columns.map(\.0)).joined(separator: ", ")
        let marks = Array(repeating: "?", count: columns.count + 1).joined(separator: ", ")
        record.id = 0
        let data: [UInt8] = try record.serializedBytes()
        record.id = try db.execute("INSERT INTO \(table) (\(names)) VALUES (\(marks))",
                                   [.blob(data)] + columns.map(\.1)).lastInsertID
    }

    func save(_ record: Record, columns: [(String, SQLValue)]) throws {
        let sets = (["data"] + columns.map(\.0)).map { "\($0) = ?" }.joined(separator: ", ")
        var stored = record
        stored.id = 0
        let data: [UInt8] = try stored.serializedBytes()
        try db.execute("UPDATE \(table) SET \(sets) WHERE id = ?", [.blob(data)] + columns.map(\.1) + [.integer(record.id)])
    }

    /// Decodes rows whose first column is `data` and whose column `idColumn` is the id.
    static func decode(_ rows: [[SQLValue]], idColumn: Int) throws -> [Record] {
        try rows.map { row in
            var record = try Record(serializedBytes: row[0].bytes ?? [])
            record.id = row[idColumn].int ?? 0
            return record
        }
    }
}

/// An external id must be unique among live and deleted records alike.
func checkExternalID(_ db: Database, table: String, _ externalID: String, except id: Int64, field: String) throws {
    guard !externalID.isEmpty else { return }
    try Validate.maxLength(externalID, field, 200)
    if let owner = try db.query("SELECT id FROM \(table) WHERE external_id = ? AND id <> ?",
                                [.text(externalID), .integer(id)]).first?.first?.int {
        throw PluginError.alreadyExists("\(field) \"\(externalID)\" is already used by \(table == "contacts_people" ? "person" : "organization") \(owner)")
    }
}

func checkAddresses(_ addresses: [Crm_Contacts_V1_Address], field: String) throws {
    guard addresses.count <= 20 else { throw PluginError.invalidArgument("\(field) has more than 20 entries") }
    for (i, address) in addresses.enumerated() {
        for (name, value) in [("street", address.street), ("city", address.city), ("region", address.region),
                              ("postal_code", address.postalCode), ("label", address.label)] {
            try Validate.maxLength(value, "\(field)[\(i)].\(name)", 200)
        }
        if !address.country.isEmpty, address.country.count != 2 || !address.country.allSatisfy({ $0.isASCII && $0.isLetter }) {
            throw PluginError.invalidArgument("\(field)[\(i)].country is not an ISO 3166-1 alpha-2 code: \"\(address.country)\"")
        }
    }
}

func checkPhones(_ phones: [Crm_Contacts_V1_Phone], field: String) throws {
    guard phones.count <= 20 else { throw PluginError.invalidArgument("\(field) has more than 20 entries") }
    for (i, phone) in phones.enumerated() {
        try Validate.phone(phone.number, "\(field)[\(i)].number")
        try Validate.maxLength(phone.label, "\(field)[\(i)].label", 50)
    }
}
