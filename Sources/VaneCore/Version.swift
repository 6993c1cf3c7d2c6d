/// Vane's version: what `vane --version` prints and what provenance records (stores' `vane_version`).
public enum VaneVersion {
    public static let current = "0.1.0"
}
