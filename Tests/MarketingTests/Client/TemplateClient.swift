import CRMProto

public typealias MTemplate = Crm_Marketing_V1_Template

/// Template calls for tests.
extension MarketingClient {
    public func createTemplate(_ name: String, subject: String = "Hello {{person.first_name}}",
                               html: String = "<p>Hi</p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a>",
                               text: String = "Hi\nUnsubscribe: {{unsubscribe_url}}", description: String = "",
                               key: String = "") async throws -> MTemplate {
        try await call("CreateTemplate", Crm_Marketing_V1_CreateTemplateRequest.with {
            $0.template.name = name
            $0.template.description_p = description
            $0.template.subject = subject
            $0.template.htmlBody = html
            $0.template.textBody = text
            $0.idempotencyKey = key
        })
    }

    public func getTemplate(_ id: Int64) async throws -> MTemplate {
        try await call("GetTemplate", Crm_Marketing_V1_GetTemplateRequest.with { $0.id = id })
    }

    public func updateTemplate(_ id: Int64, mask: [String] = [], expectedVersion: Int64 = 0,
                               _ change: (inout MTemplate) -> Void) async throws -> MTemplate {
        try await call("UpdateTemplate", Crm_Marketing_V1_UpdateTemplateRequest.with {
            $0.template.id = id
            change(&$0.template)
            $0.updateMask = mask
            $0.expectedVersion = expectedVersion
        })
    }

    public func deleteTemplate(_ id: Int64, expectedVersion: Int64 = 0) async throws -> MTemplate {
        try await call("DeleteTemplate", Crm_Marketing_V1_DeleteTemplateRequest.with {
            $0.id = id
            $0.expectedVersion = expectedVersion
        })
    }

    public func listTemplates(pageSize: Int32 = 0, token: String = "", namePrefix: String = "",
                              includeDeleted: Bool = false) async throws -> Crm_Marketing_V1_ListTemplatesResponse {
        try await call("ListTemplates", Crm_Marketing_V1_ListTemplatesRequest.with {
            $0.pageSize = pageSize
            $0.pageToken = token
            $0.namePrefix = namePrefix
            $0.includeDeleted = includeDeleted
        })
    }

    public func preview(template id: Int64, person: Int64, unsubscribeURL: String = "") async throws
        -> Crm_Marketing_V1_TemplatePreview {
        try await call("PreviewTemplate", Crm_Marketing_V1_PreviewTemplateRequest.with {
            $0.templateID = id
            $0.personID = person
            $0.unsubscribeURL = unsubscribeURL
        })
    }

    public func preview(subject: String, html: String = "", text: String = "", person: Int64,
                        unsubscribeURL: String = "") async throws -> Crm_Marketing_V1_TemplatePreview {
        try await call("PreviewTemplate", Crm_Marketing_V1_PreviewTemplateRequest.with {
            $0.template.subject = subject
            $0.template.htmlBody = html
            $0.template.textBody = text
            $0.personID = person
            $0.unsubscribeURL = unsubscribeURL
        })
    }
}
