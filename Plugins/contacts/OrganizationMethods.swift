import CRMPluginKit
import ContactsContract

/// Create, read, update, soft-delete, restore and list organizations.
enum OrganizationMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "CreateOrganization", create)
        def.unary(Contacts.service + "GetOrganization", get)
        def.unary(Contacts.service + "UpdateOrganization", update)
        def.unary(Contacts.service + "DeleteOrganization", delete)
        def.unary(Contacts.service + "RestoreOrganization", restore)
        def.unary(Contacts.service + "ListOrganizations", list)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Contacts_V1_CreateOrganizationRequest) throws -> Organization {
        let db = try ctx.database
        let store = OrganizationStore(db: db)
        let scope = ctx.scope
        let (previous, claim) = try PersonMethods.idempotency.check(
            db, method: PersonMethods.keyScope(ctx, "CreateOrganization"), req, key: \.idempotencyKey)
        if let id = previous {
            return try store.require(id, scope: scope)
        }
        var organization = req.organization
        organization.id = 0
        organization.owner = try scope.checkedOwner(organization.owner, field: "organization.owner", "organization")
        try store.validate(&organization)
        try OrganizationHierarchy.checkParent(db, organization, scope: ctx.scope(for: Permission.organizationRead),
                                              field: "organization.parent_id")
        let now = UTCClock.nowMicros()
        organization.version = 1
        organization.createdUnixUs = now
        organization.updatedUnixUs = now
        organization.deletedUnixUs = 0
        try store.insert(&organization)
        try PersonMethods.idempotency.record(db, claim, resultID: organization.id)
        try AuditTrail.organization(ctx, "create", before: nil, after: organization)
        try publish(ctx, "created", organization, summary: "Organization \(organization.name) created")
        return organization
    }

    static func get(_ ctx: CallContext, _ req: Crm_Contacts_V1_GetOrganizationRequest) throws -> Organization {
        try OrganizationStore(db: ctx.database).require(req.id, scope: ctx.scope)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Contacts_V1_UpdateOrganizationRequest) throws -> Organization {
        let fields = try OrganizationStore.updateMask.resolve(req.updateMask, req.organization)
        let store = OrganizationStore(db: try ctx.database)
        let scope = ctx.scope
        var organization = try store.requireLive(req.organization.id, field: "organization.id", scope: scope)
        try Validate.expectedVersion(req.expectedVersion, organization.version, noun: "organization \(organization.id)")
        let before = organization
        OrganizationStore.apply(req.organization, to: &organization, fields: fields.names)
        if organization.owner != before.owner {
            organization.owner = try scope.checkedOwner(organization.owner, field: "organization.owner",
                                                        "organization \(organization.id)")
        }
        try store.validate(&organization)
        if organization.parentID != before.parentID {
            try OrganizationHierarchy.checkParent(store.db, organization, scope: ctx.scope(for: Permission.organizationRead),
                                                  field: "organization.parent_id")
        }
        let changed = OrganizationStore.updateMask.fields.keys.sorted().filter { field in
            var probe = before
            OrganizationStore.apply(organization, to: &probe, fields: [field])
            return probe != before
        }
        guard !changed.isEmpty else { return organization }
        organization.version += 1
        organization.updatedUnixUs = UTCClock.nowMicros()
        try store.save(organization)
        try AuditTrail.organization(ctx, "update", before: before, after: organization)
        try publish(ctx, "updated", organization, changed: changed,
                    summary: "Organization \(organization.name) updated: \(changed.joined(separator: ", "))")
        return organization
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Contacts_V1_DeleteOrganizationRequest) throws -> Organization {
        let store = OrganizationStore(db: try ctx.database)
        var organization = try store.requireLive(req.id, scope: ctx.scope)
        let before = organization
        organization.deletedUnixUs = UTCClock.nowMicros()
        organization.version += 1
        try store.save(organization)
        try AuditTrail.organization(ctx, "delete", before: before, after: organization)
        try publish(ctx, "deleted", organization, summary: "Organization \(organization.name) deleted")
        return organization
    }

    static func restore(_ ctx: CallContext, _ req: Crm_Contacts_V1_RestoreOrganizationRequest) throws -> Organization {
        let store = OrganizationStore(db: try ctx.database)
        var organization = try store.table.requireWritable(req.id, field: "id", scope: ctx.scope)
        let before = organization
        if organization.mergedIntoID != 0 {
            throw PluginError.failedPrecondition(
                "id: organization \(req.id) was merged into organization \(organization.mergedIntoID) and cannot be restored")
        }
        guard organization.deletedUnixUs != 0 else {
            throw PluginError.failedPrecondition("id: organization \(req.id) is not deleted")
        }
        organization.deletedUnixUs = 0
        organization.version += 1
        organization.updatedUnixUs = UTCClock.nowMicros()
        try store.save(organization)
        try AuditTrail.organization(ctx, "restore", before: before, after: organization)
        try publish(ctx, "restored", organization, summary: "Organization \(organization.name) restored")
        return organization
    }

    static func list(_ ctx: CallContext, _ req: Crm_Contacts_V1_ListOrganizationsRequest) throws -> Crm_Contacts_V1_ListOrganizationsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var filter = SQLFilter()
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        if !req.includeDeleted { filter.add("deleted_us = 0") }
        if !req.owner.isEmpty { filter.add("owner = ?", .text(req.owner)) }
        if !req.namePrefix.isEmpty {
            let prefix = Normalize.name(req.namePrefix)
            filter.add("name_key >= ? AND name_key < ?", .text(prefix), .text(Normalize.upperBound(prefix)))
        }
        if !req.tag.isEmpty {
            // EXISTS probes the tag per candidate in sort order and stops at a full
            // page; IN would first list every record with the tag.
            filter.add("""
                EXISTS (SELECT 1 FROM contacts_search s WHERE s.entity = 2 AND s.kind = 't' AND s.key = ?
                    AND s.record_id = contacts_organizations.id)
                """, .text(Tags.normalize(req.tag)))
        }
        if let after = paging.after { filter.add("(name_key, id) > (?, ?)", after[0], after[1]) }
        let rows = try ctx.database.query("""
            SELECT data, name_key, id FROM contacts_organizations \(filter.clause)
            ORDER BY name_key, id LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[1], $0[2]] }
        var response = Crm_Contacts_V1_ListOrganizationsResponse()
        response.organizations = try RecordTable<Organization>.decode(page.rows, idColumn: 2)
        response.nextPageToken = page.nextToken
        return response
    }

    static func publish(_ ctx: CallContext, _ action: String, _ organization: Organization, changed: [String] = [],
                        summary: String) throws {
        var event = Crm_Contacts_V1_OrganizationEvent()
        event.organization = organization
        event.changedFields = changed
        event.about.organizationIds = [organization.id]
        event.about.summary = summary
        try TimelineFiling.publish(ctx, "contacts.organization.\(action)", event, about: event.about,
                                   subject: subject(organization))
    }

    /// What an organization's events are about.
    static func subject(_ organization: Organization) -> EventSubject {
        EventSubject(entity: AuditTrail.organizationEntity, recordID: String(organization.id),
                     owner: ownerOrNil(organization.owner))
    }
}
