import CRMPluginKit

/// Email templates with merge fields, rendered by swift-mustache.
enum Templates {
    static let schema = """
        CREATE TABLE marketing_templates (id INTEGER PRIMARY KEY);
        """

    static func register(on def: PluginDefinition) {}
}
