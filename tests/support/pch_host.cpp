// The target that owns the test suite's precompiled header (tests/CMakeLists.txt); never run.
int main() { return 0; }
