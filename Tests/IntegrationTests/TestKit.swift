// Every file of this suite sees the test kit (ProcessCluster, eventually, FuzzSeed, …) without an import.
@_exported import RecTestKit
