import CRMPluginKit
import ContactsContract

/// Create, read, update, soft-delete and restore people.
enum PersonMethods {
    static let idempotency = IdempotencyKeys(table: "contacts_idempotency")

    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "CreatePerson", create)
        def.unaryBytes(Contacts.service + "GetPerson", responds: Person.self, get)
        def.unary(Contacts.service + "UpdatePerson", update)
        def.unary(Contacts.service + "DeletePerson", delete)
        def.unary(Contacts.service + "RestorePerson", restore)
    }

    /// A key is scoped to its method and to the CRM user the call acts for,
    /// so one user's key never replays another's record.
    static func keyScope(_ ctx: CallContext, _ method: String) -> String {
        ctx.user.map { "\(method) for \($0)" } ?? method
    }

    static func create(_ ctx: CallContext, _ req: Crm_Contacts_V1_CreatePersonRequest) throws -> Person {
        let db = try ctx.database
        let store = PersonStore(db: db)
        let scope = ctx.scope
        let (previous, claim) = try idempotency.check(db, method: keyScope(ctx, "CreatePerson"), req, key: \.idempotencyKey)
        if let id = previous {
            return try store.require(id, scope: scope)
        }
        var person = req.person
        person.id = 0
        person.owner = try scope.checkedOwner(person.owner, field: "person.owner", "person")
        try checkOrganizationReachable(db, person.organizationID, field: "person",
                                       scope: ctx.scope(for: Permission.organizationRead))
        try store.validate(&person)
        let now = UTCClock.nowMicros()
        person.version = 1
        person.createdUnixUs = now
        person.updatedUnixUs = now
        person.deletedUnixUs = 0
        person.mergedIntoID = 0
        try store.insert(&person)
        try idempotency.record(db, claim, resultID: person.id)
        try AuditTrail.person(ctx, "create", before: nil, after: person)
        try publish(ctx, "created", person, summary: "Contact \(PersonStore.displayName(person)) created")
        return person
    }

    /// The hot read: the stored bytes go out as they are.
    static func get(_ ctx: CallContext, _ req: Crm_Contacts_V1_GetPersonRequest) throws -> [UInt8] {
        try PersonStore(db: ctx.database).table.requireSerialized(req.id, field: "id", scope: ctx.scope)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Contacts_V1_UpdatePersonRequest) throws -> Person {
        let fields = try PersonStore.updateMask.resolve(req.updateMask, req.person)
        let db = try ctx.database
        let store = PersonStore(db: db)
        let scope = ctx.scope
        var person = try store.requireLive(req.person.id, field: "person.id", scope: scope)
        try Validate.expectedVersion(req.expectedVersion, person.version, noun: "person \(person.id)")
        let before = person
        PersonStore.apply(req.person, to: &person, fields: fields.names)
        try checkScope(ctx, db, &person, before: before, field: "person", scope: scope)
        try store.validate(&person)
        let changed = changedFields(before, person)
        guard !changed.isEmpty else { return person }
        person.version += 1
        person.updatedUnixUs = UTCClock.nowMicros()
        try store.save(person)
        try AuditTrail.person(ctx, "update", before: before, after: person)
        try publish(ctx, "updated", person, changed: changed,
                    summary: "Contact \(PersonStore.displayName(person)) updated: \(changed.joined(separator: ", "))")
        return person
    }

    /// A changed owner must stay in the caller's scope (cleared under a
    /// limited scope: the caller); a changed organization must be one the
    /// caller may read. Unchanged ones are left alone, even out of scope.
    static func checkScope(_ ctx: CallContext, _ db: Database, _ person: inout Person, before: Person, field: String,
                           scope: RecordScope) throws {
        if person.owner != before.owner {
            person.owner = try scope.checkedOwner(person.owner, field: "\(field).owner", "person \(person.id)")
        }
        if person.organizationID != before.organizationID {
            try checkOrganizationReachable(db, person.organizationID, field: field,
                                           scope: ctx.scope(for: Permission.organizationRead))
        }
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Contacts_V1_DeletePersonRequest) throws -> Person {
        let store = PersonStore(db: try ctx.database)
        var person = try store.requireLive(req.id, scope: ctx.scope)
        let before = person
        person.deletedUnixUs = UTCClock.nowMicros()
        person.version += 1
        try store.save(person)
        try AuditTrail.person(ctx, "delete", before: before, after: person)
        try publish(ctx, "deleted", person, summary: "Contact \(PersonStore.displayName(person)) deleted")
        return person
    }

    static func restore(_ ctx: CallContext, _ req: Crm_Contacts_V1_RestorePersonRequest) throws -> Person {
        let store = PersonStore(db: try ctx.database)
        var person = try store.table.requireWritable(req.id, field: "id", scope: ctx.scope)
        let before = person
        // An erased person is a deleted tombstone: restoring would list an empty record.
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("id: person \(req.id) was erased and cannot be restored") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("id: person \(req.id) was merged into person \(person.mergedIntoID) and cannot be restored")
        }
        guard person.deletedUnixUs != 0 else { throw PluginError.failedPrecondition("id: person \(req.id) is not deleted") }
        person.deletedUnixUs = 0
        person.version += 1
        person.updatedUnixUs = UTCClock.nowMicros()
        try store.save(person)
        try AuditTrail.person(ctx, "restore", before: before, after: person)
        try publish(ctx, "restored", person, summary: "Contact \(PersonStore.displayName(person)) restored")
        return person
    }

    /// The writable fields whose values differ, by name, in alphabetical order.
    static func changedFields(_ a: Person, _ b: Person) -> [String] {
        let checks: [(String, Bool)] = [
            ("addresses", a.addresses != b.addresses), ("custom_fields", a.customFields != b.customFields),
            ("emails", a.emails != b.emails), ("external_id", a.externalID != b.externalID),
            ("first_name", a.firstName != b.firstName), ("job_title", a.jobTitle != b.jobTitle),
            ("last_name", a.lastName != b.lastName), ("lifecycle_stage", a.lifecycleStage != b.lifecycleStage),
            ("notes", a.notes != b.notes), ("organization_id", a.organizationID != b.organizationID),
            ("owner", a.owner != b.owner), ("phones", a.phones != b.phones), ("source", a.source != b.source),
            ("tags", a.tags != b.tags),
        ]
        return checks.filter(\.1).map(\.0)
    }

    static func publish(_ ctx: CallContext, _ action: String, _ person: Person, changed: [String] = [],
                        mergedID: Int64 = 0, summary: String) throws {
        var event = Crm_Contacts_V1_PersonEvent()
        event.person = person
        event.changedFields = changed
        event.mergedID = mergedID
        event.about.personIds = [person.id]
        if person.organizationID != 0 { event.about.organizationIds = [person.organizationID] }
        event.about.summary = summary
        try TimelineFiling.publish(ctx, "contacts.contact.\(action)", event, about: event.about, subject: subject(person))
    }

    /// What a person's events are about, for crmd's stream filter and erasure.
    static func subject(_ person: Person) -> EventSubject {
        EventSubject(entity: AuditTrail.personEntity, recordID: String(person.id), owner: ownerOrNil(person.owner))
    }
}
