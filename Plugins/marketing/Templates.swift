import CRMPluginKit
import MarketingContract

/// Email templates with merge fields, rendered by swift-mustache: create,
/// read, update, delete (soft) and list. Checking is TemplateCompiler's and
/// TemplateFields', rendering and preview TemplateRendering's.
enum Templates {
    static let schema = TemplateStore.schema

    static let maxNameLength = 200
    static let maxDescriptionLength = 2000
    /// RFC 5322's line limit, for the subject as written.
    static let maxSubjectBytes = 998
    static let maxBodyBytes = 512 * 1024

    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "CreateTemplate", create)
        def.unary(Marketing.service + "GetTemplate", get)
        def.unary(Marketing.service + "UpdateTemplate", update)
        def.unary(Marketing.service + "DeleteTemplate", delete)
        def.unary(Marketing.service + "ListTemplates", list)
        def.unary(Marketing.service + "PreviewTemplate", TemplateRendering.preview)
        def.unary(Marketing.service + "ListTemplateMergeFields", TemplateFields.list)
    }

    /// For campaigns: template `templateID` rendered for `person` (see
    /// TemplateRendering.render; compiled once per template version).
    static func render(_ ctx: CallContext, _ db: Database, templateID: Int64, person: Person,
                       organization: Organization?, unsubscribeURL: String) throws -> RenderedEmail {
        try TemplateRendering.render(ctx, db, templateID: templateID, person: person, organization: organization,
                                     unsubscribeURL: unsubscribeURL)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Marketing_V1_CreateTemplateRequest) throws -> EmailTemplate {
        let db = try ctx.database
        let store = TemplateStore(db: db)
        let (previous, claim) = try Marketing.idempotency.check(db, method: "CreateTemplate", req, key: \.idempotencyKey)
        if let id = previous { return try store.require(id) }
        var t = EmailTemplate()
        t.name = req.template.name
        t.description_p = req.template.description_p
        t.subject = req.template.subject
        t.htmlBody = req.template.htmlBody
        t.textBody = req.template.textBody
        try validate(ctx, &t, prefix: "template.")
        try store.checkNameFree(t.name, except: 0, field: "template.name")
        let now = UTCClock.nowMicros()
        t.version = 1
        t.createdUnixUs = now
        t.updatedUnixUs = now
        try store.insert(&t)
        try Marketing.idempotency.record(db, claim, resultID: t.id)
        try TemplateStore.audit(ctx, "create", old: nil, new: t)
        return t
    }

    static func get(_ ctx: CallContext, _ req: Crm_Marketing_V1_GetTemplateRequest) throws -> EmailTemplate {
        try TemplateStore(db: ctx.database).require(req.id)
    }

    static func update(_ ctx: CallContext, _ req: Crm_Marketing_V1_UpdateTemplateRequest) throws -> EmailTemplate {
        let fields = try TemplateStore.updateMask.resolve(req.updateMask, req.template)
        let store = TemplateStore(db: try ctx.database)
        var t = try store.require(req.template.id, field: "template.id")
        guard t.deletedUnixUs == 0 else {
            throw PluginError.failedPrecondition("template.id: template \(t.id) is deleted")
        }
        try Validate.expectedVersion(req.expectedVersion, t.version, noun: "template \(t.id)")
        let before = t
        let given = req.template
        if fields.contains("name") { t.name = given.name }
        if fields.contains("description") { t.description_p = given.description_p }
        if fields.contains("subject") { t.subject = given.subject }
        if fields.contains("html_body") { t.htmlBody = given.htmlBody }
        if fields.contains("text_body") { t.textBody = given.textBody }
        try validate(ctx, &t, prefix: "template.")
        guard t != before else { return t }
        if Normalize.name(t.name) != Normalize.name(before.name) {
            try store.checkNameFree(t.name, except: t.id, field: "template.name")
        }
        t.version += 1
        t.updatedUnixUs = UTCClock.nowMicros()
        try store.save(t)
        try TemplateStore.audit(ctx, "update", old: before, new: t)
        return t
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Marketing_V1_DeleteTemplateRequest) throws -> EmailTemplate {
        let store = TemplateStore(db: try ctx.database)
        var t = try store.require(req.id)
        guard t.deletedUnixUs == 0 else { throw PluginError.failedPrecondition("id: template \(t.id) is already deleted") }
        try Validate.expectedVersion(req.expectedVersion, t.version, noun: "template \(t.id)")
        let before = t
        let now = UTCClock.nowMicros()
        t.deletedUnixUs = now
        t.updatedUnixUs = now
        t.version += 1
        try store.save(t)
        try TemplateStore.audit(ctx, "delete", old: before, new: t)
        return t
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListTemplatesRequest) throws
        -> Crm_Marketing_V1_ListTemplatesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        try Validate.maxLength(req.namePrefix, "name_prefix", maxNameLength)
        var filter = SQLFilter()
        if !req.includeDeleted { filter.add("deleted_us = 0") }
        let prefix = Normalize.name(req.namePrefix)
        if !prefix.isEmpty {
            filter.add("name_key >= ?", .text(prefix))
            filter.add("name_key < ?", .text(Normalize.upperBound(prefix)))
        }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let rows = try ctx.database.query(
            "SELECT \(TemplateStore.listColumns) FROM marketing_templates \(filter.clause) ORDER BY id LIMIT ?",
            filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[0]] }
        var response = Crm_Marketing_V1_ListTemplatesResponse()
        response.templates = page.rows.map(TemplateStore.decode)
        response.nextPageToken = page.nextToken
        return response
    }

    /// Trims and checks the writable fields, compiles the parts and checks
    /// their merge fields; sets `merge_fields`. Returns the compiled parts.
    @discardableResult
    static func validate(_ ctx: CallContext, _ t: inout EmailTemplate, prefix: String, named: Bool = true) throws
        -> CompiledTemplate {
        t.name = t.name.trimmedSpacesAndNewlines
        t.description_p = t.description_p.trimmedSpacesAndNewlines
        t.subject = t.subject.trimmedSpaces
        if named {
            try Validate.required(t.name, "\(prefix)name")
            try Validate.maxLength(t.name, "\(prefix)name", maxNameLength)
            try Validate.maxLength(t.description_p, "\(prefix)description", maxDescriptionLength)
        }
        try checkParts(t, prefix: prefix)
        let compiled = try TemplateCompiler.compile(subject: t.subject, html: t.htmlBody, text: t.textBody)
        try TemplateFields.check(ctx, compiled)
        t.mergeFields = compiled.mergeFields
        return compiled
    }

    static func checkParts(_ t: EmailTemplate, prefix: String) throws {
        try Validate.required(t.subject, "\(prefix)subject")
        if t.subject.utf8.count > maxSubjectBytes {
            throw PluginError.invalidArgument("\(prefix)subject is longer than \(maxSubjectBytes) bytes")
        }
        if t.subject.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw PluginError.invalidArgument("\(prefix)subject must be one line (no CR or LF)")
        }
        if t.htmlBody.isEmpty && t.textBody.isEmpty {
            throw PluginError.invalidArgument("\(prefix)html_body or \(prefix)text_body is required")
        }
        for (body, name) in [(t.htmlBody, "html_body"), (t.textBody, "text_body")] where body.utf8.count > maxBodyBytes {
            throw PluginError.invalidArgument("\(prefix)\(name) is larger than 512 KiB (\(body.utf8.count) bytes)")
        }
    }
}
