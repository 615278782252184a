// The XbarSim library: one import for the whole public API.
@_exported import XbarSimDevice
@_exported import XbarSimSupport
@_exported import XbarSimAnalog
@_exported import XbarSimCircuit
@_exported import XbarSimCrossbar
@_exported import XbarSimEnergy
@_exported import XbarSimExperiments
@_exported import XbarSimGraph
@_exported import XbarSimIO
@_exported import XbarSimSpice
@_exported import XbarSimTensor
