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

    static func create(_ ctx: CallContext, _ req: Crm_Contacts_V1_CreatePersonRequest) throws -> Person {
        let db = try ctx.database
        let store = PersonStore(db: db)
        let (previous, claim) = try idempotency.check(db, method: "CreatePerson", req, key: \.idempotencyKey)
        if let id = previous {
            return try store.require(id)
        }
        var person = req.person
        person.id = 0
        try store.validate(&person)
        let now = UTCClock.nowMicros()
        person.version = 1
        person.createdUnixUs = now
        person.updatedUnixUs = now
        person.deletedUnixUs = 0
        person.mergedIntoID = 0
        try store.insert(&person)
        try idempotency.record(db, claim, resultID: person.id)
        try publish(ctx, "created", person, summary: "Contact \(PersonStore.displayName(person)) created")
        return person
    }

    /// The hot read: the stored bytes go out as they are.
    static func get(_ ctx: CallContext, _ req: Crm_Contacts_V1_GetPersonRequest) throws -> [UInt8] {
        try PersonStore(db: ctx.database).table.requireSerialized(req.id, field: "id")
    }

    static func update(_ ctx: CallContext, _ req: Crm_Contacts_V1_UpdatePersonRequest) throws -> Person {
        let fields = try PersonStore.updateMask.resolve(req.updateMask, req.person)
        let store = PersonStore(db: try ctx.database)
        var person = try store.requireLive(req.person.id, field: "person.id")
        try Validate.expectedVersion(req.expectedVersion, person.version, noun: "person \(person.id)")
        let before = person
        PersonStore.apply(req.person, to: &person, fields: fields.names)
        try store.validate(&person)
        let changed = changedFields(before, person)
        guard !changed.isEmpty else { return person }
        person.version += 1
        person.updatedUnixUs = UTCClock.nowMicros()
        try store.save(person)
        try publish(ctx, "updated", person, changed: changed,
                    summary: "Contact \(PersonStore.displayName(person)) updated: \(changed.joined(separator: ", "))")
        return person
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Contacts_V1_DeletePersonRequest) throws -> Person {
        let store = PersonStore(db: try ctx.database)
        var person = try store.requireLive(req.id)
        person.deletedUnixUs = UTCClock.nowMicros()
        person.version += 1
        try store.save(person)
        try publish(ctx, "deleted", person, summary: "Contact \(PersonStore.displayName(person)) deleted")
        return person
    }

    static func restore(_ ctx: CallContext, _ req: Crm_Contacts_V1_RestorePersonRequest) throws -> Person {
        let store = PersonStore(db: try ctx.database)
        var person = try store.require(req.id)
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
        try TimelineFiling.publish(ctx, "contacts.contact.\(action)", event, about: event.about)
    }
}
