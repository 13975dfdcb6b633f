// The source that climseg_library_pch's precompiled header is built with (cmake/BuildTime.cmake):
// the libraries reuse that header; this file has nothing of its own.
