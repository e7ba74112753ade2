// sem_dump FILE.xml: parse a Slicer CLI module description with SlicerExecutionModel's own
// ModuleDescriptionParser (the sources in ../shared/slicer/sem) and print each parameter, one per
// line, tab-separated: tag, name, longflag, flag, channel, index, value (= the XML default),
// elements joined by '|'. Exit 1 with the parser's message when Slicer would reject the file.
// Built by Testing/slicer_harness/sem.py next to sem_check; the harness uses it to build the
// command line Slicer builds (vtkSlicerCLIModuleLogic) from the parameters Slicer itself parsed.
#include "ModuleDescription.h"
#include "ModuleDescriptionParser.h"
#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv)
{
  if (argc != 2) { std::cerr << "usage: sem_dump FILE.xml" << std::endl; return 2; }
  std::ifstream in(argv[1]);
  if (!in) { std::cerr << argv[1] << ": cannot be read" << std::endl; return 2; }
  std::stringstream text;
  text << in.rdbuf();
  ModuleDescription description;
  ModuleDescriptionParser parser;
  if (parser.Parse(text.str(), description) != 0) { return 1; }
  for (const auto& group : description.GetParameterGroups())
  {
    for (const auto& p : group.GetParameters())
    {
      std::string elements;
      for (const auto& e : p.GetElements()) { elements += (elements.empty() ? "" : "|") + e; }
      std::cout << p.GetTag() << '\t' << p.GetName() << '\t' << p.GetLongFlag() << '\t' << p.GetFlag() << '\t'
                << p.GetChannel() << '\t' << p.GetIndex() << '\t' << p.GetValue() << '\t' << elements << '\n';
    }
  }
  return 0;
}
