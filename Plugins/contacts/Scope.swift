import CRMPluginKit
import ContactsContract

/// Record scope in contacts (docs/ACCESS.md): every read applies the
/// caller's scope in its SQL, so an out-of-scope record is answered as a
/// missing one (NOT_FOUND, absent from lists, never counted); a write to
/// one is PERMISSION_DENIED. People and organizations are owned by the CRM
/// user in their `owner` column; a record without an owner ("") is in
/// reach `all` only.
enum Permission {
    static let personRead = "contacts.person.read"
    static let organizationRead = "contacts.organization.read"
}

extension RecordTable where Record: OwnedRecord {
    /// A record to write to: NOT_FOUND if there is none, PERMISSION_DENIED
    /// if its owner is out of `scope` (checked before any state of the
    /// record is told, so a write cannot probe it further).
    func requireWritable(_ id: Int64, field: String, scope: RecordScope) throws -> Record {
        try Validate.positiveID(id, field)
        guard let record = try load(id) else { throw notFound(id, field: field) }
        try scope.checkWritable(owner: ownerOrNil(record.owner), "\(field): \(noun) \(id)")
        return record
    }
}

/// A record with an owner column.
protocol OwnedRecord: IdentifiedRecord {
    var owner: String { get set }
}

extension Crm_Contacts_V1_Person: OwnedRecord {}
extension Crm_Contacts_V1_Organization: OwnedRecord {}

extension RecordScope {
    /// The owner a written record gets (`RecordScope.owner(for:)`), after a
    /// length check so an overlong name is INVALID_ARGUMENT, not echoed in
    /// a PERMISSION_DENIED message.
    func checkedOwner(_ requested: String, field: String, _ what: String) throws -> String {
        try Validate.maxLength(requested, field, 200)
        return try owner(for: requested, what)
    }
}

/// A person may name only an organization the caller can read: one out of
/// that scope is answered exactly as a missing one (PersonStore.validate's
/// message). Called before validate, when organization_id is set or changes.
func checkOrganizationReachable(_ db: Database, _ id: Int64, field: String, scope: RecordScope) throws {
    guard id > 0, scope.reach != .all else { return }
    guard let owner = try db.query("SELECT owner FROM contacts_organizations WHERE id = ?", [.integer(id)]).first?.first?.string
    else { return }  // validate answers for a missing one
    guard scope.includes(owner: ownerOrNil(owner)) else {
        throw PluginError.notFound("\(field).organization_id: organization \(id) does not exist")
    }
}
